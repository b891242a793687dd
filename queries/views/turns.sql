-- turns: one row per user question, with the answer that followed and its contexts.
WITH m AS (
  SELECT
    convo_id, message_index, role, content, context_count, image_count, file_count,
    created_at,
    LEAD(role) OVER w AS next_role,
    LEAD(message_index) OVER w AS next_index,
    LEAD(content) OVER w AS next_content,
    LEAD(context_count) OVER w AS next_context_count,
    LEAD(feedback_positive) OVER w AS next_feedback_positive,
    LEAD(feedback_category) OVER w AS next_feedback_category
  FROM messages
  WINDOW w AS (PARTITION BY convo_id ORDER BY message_index)
),
q AS (
  SELECT
    convo_id,
    message_index AS question_index,
    content AS question,
    CASE WHEN next_role = 'assistant' THEN next_index END AS answer_index,
    CASE WHEN next_role = 'assistant' THEN next_content END AS answer,
    coalesce(image_count, 0) AS image_count,
    coalesce(file_count, 0) AS file_count,
    coalesce(context_count, 0)
      + CASE WHEN next_role = 'assistant' THEN coalesce(next_context_count, 0) ELSE 0 END
      AS context_count,
    CASE WHEN next_role = 'assistant' THEN next_feedback_positive END AS feedback_positive,
    CASE WHEN next_role = 'assistant' THEN next_feedback_category END AS feedback_category
  FROM m
  WHERE role = 'user'
),
ctx AS (
  SELECT
    q.convo_id, q.question_index,
    array_agg(DISTINCT x.readable_filename) AS sources
  FROM q
  JOIN contexts x
    ON x.convo_id = q.convo_id
   AND (x.message_index = q.question_index OR x.message_index = q.answer_index)
  WHERE x.readable_filename IS NOT NULL
  GROUP BY q.convo_id, q.question_index
)
SELECT
  q.convo_id,
  q.question_index,
  q.answer_index,
  c.course_name,
  c.user_email,
  c.created_at,
  c.model_id,
  q.question,
  q.answer,
  q.context_count,
  ctx.sources,
  q.image_count,
  q.file_count,
  q.feedback_positive,
  q.feedback_category
FROM q
JOIN conversations c ON c.convo_id = q.convo_id
LEFT JOIN ctx ON ctx.convo_id = q.convo_id AND ctx.question_index = q.question_index
