-- topics: every user question with its conversation's course, user and month (in --tz), and
-- the rating of the answer that followed it. Ordered by time, so the representative
-- questions and the assignments come out in a stable order.
SELECT q.convo_id,
       q.message_index AS question_index,
       a.message_index AS answer_index,
       c.course_name,
       c.user_email,
       to_char(c.created_at, '%Y-%m') AS month,
       q.content AS question,
       a.feedback_positive
FROM messages q
JOIN conversations c ON c.convo_id = q.convo_id
LEFT JOIN messages a
  ON a.convo_id = q.convo_id AND a.message_index = q.message_index + 1 AND a.role = 'assistant'
WHERE q.role = 'user' AND q.content IS NOT NULL AND trim(q.content) <> ''
ORDER BY c.created_at NULLS LAST, q.convo_id, q.message_index
