-- title: Conversation shape
-- description: Questions per conversation, and the lengths of questions and answers.
-- params: since, until, course, user

-- section: Summary
SELECT count(*) AS conversations,
       round(avg(questions), 2) AS avg_questions,
       max(questions) AS max_questions,
       round(avg(question_chars), 1) AS avg_question_chars,
       round(avg(answer_chars), 1) AS avg_answer_chars
FROM (
  SELECT c.convo_id,
         sum(CASE WHEN m.role = 'user' THEN 1 ELSE 0 END) AS questions,
         avg(CASE WHEN m.role = 'user' THEN character_length(m.content) END) AS question_chars,
         avg(CASE WHEN m.role = 'assistant' THEN character_length(m.content) END) AS answer_chars
  FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
  GROUP BY c.convo_id
) t;

-- section: Questions per conversation
-- chart: bar questions conversations
WITH q AS (
  SELECT c.convo_id, sum(CASE WHEN m.role = 'user' THEN 1 ELSE 0 END) AS n
  FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
  GROUP BY c.convo_id
)
SELECT CASE WHEN n <= 3 THEN CAST(n AS VARCHAR) WHEN n <= 5 THEN '4-5' WHEN n <= 10 THEN '6-10'
            ELSE '11+' END AS questions,
       count(*) AS conversations
FROM q GROUP BY 1 ORDER BY min(n);

-- section: Question length (characters)
-- chart: bar length questions
SELECT CASE WHEN n < 50 THEN '0-49' WHEN n < 100 THEN '50-99' WHEN n < 200 THEN '100-199'
            WHEN n < 500 THEN '200-499' ELSE '500+' END AS length,
       count(*) AS questions
FROM (SELECT character_length(content) AS n FROM messages WHERE role = 'user' AND content IS NOT NULL) t
GROUP BY 1 ORDER BY min(n);

-- section: Answer length (characters)
-- chart: bar length answers
SELECT CASE WHEN n < 200 THEN '0-199' WHEN n < 500 THEN '200-499' WHEN n < 1000 THEN '500-999'
            WHEN n < 2000 THEN '1000-1999' ELSE '2000+' END AS length,
       count(*) AS answers
FROM (SELECT character_length(content) AS n FROM messages WHERE role = 'assistant' AND content IS NOT NULL) t
GROUP BY 1 ORDER BY min(n);
