-- title: Feedback
-- description: Thumbs up and down on answers: where the bot fails (negative rates by model, course, month, category, cited document, query rewriting) and the latest disliked answers in full.
-- params: since, until, course, user

-- section: Totals
SELECT count(*) AS answers,
       sum(CASE WHEN feedback_positive THEN 1 ELSE 0 END) AS positive,
       sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * count(feedback_positive) / nullif(count(*), 0), 1) AS rated_pct,
       round(100.0 * sum(CASE WHEN feedback_positive THEN 1 ELSE 0 END)
             / nullif(count(feedback_positive), 0), 1) AS positive_pct
FROM messages WHERE role = 'assistant';

-- section: Negative rate by model
-- chart: hbar model negative_pct
SELECT coalesce(c.model_id, '(unknown)') AS model, count(*) AS rated,
       sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END) / count(*), 1) AS negative_pct
FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
WHERE m.role = 'assistant' AND m.feedback_positive IS NOT NULL
GROUP BY 1 ORDER BY negative_pct DESC, rated DESC, model;

-- section: Negative rate by course
-- chart: hbar course negative_pct
SELECT coalesce(c.course_name, '(none)') AS course, count(*) AS rated,
       sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END) / count(*), 1) AS negative_pct
FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
WHERE m.role = 'assistant' AND m.feedback_positive IS NOT NULL
GROUP BY 1 ORDER BY negative_pct DESC, rated DESC, course;

-- section: Negative rate by month
-- chart: bar month positive,negative
-- rows: 6
SELECT to_char(date_trunc('month', c.created_at), '%Y-%m') AS month, count(*) AS rated,
       sum(CASE WHEN m.feedback_positive THEN 1 ELSE 0 END) AS positive,
       sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END) / count(*), 1) AS negative_pct
FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
WHERE m.role = 'assistant' AND m.feedback_positive IS NOT NULL AND c.created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- section: Negative rate by category
-- chart: hbar category negative
SELECT coalesce(feedback_category, '(none)') AS category, count(*) AS rated,
       sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) / count(*), 1) AS negative_pct
FROM messages WHERE role = 'assistant' AND feedback_positive IS NOT NULL
GROUP BY 1 ORDER BY negative DESC, rated DESC, category;

-- section: Documents whose answers are disliked
-- chart: hbar document negative
-- rows: 8
WITH rated AS (
  SELECT t.convo_id, t.question_index, t.answer_index, t.feedback_positive
  FROM turns t WHERE t.feedback_positive IS NOT NULL
),
cited AS (
  SELECT DISTINCT r.convo_id, r.answer_index, r.feedback_positive,
         coalesce(x.readable_filename, x.s3_path, x.url) AS document
  FROM rated r JOIN contexts x
    ON x.convo_id = r.convo_id
   AND (x.message_index = r.question_index OR x.message_index = r.answer_index)
  WHERE coalesce(x.readable_filename, x.s3_path, x.url) IS NOT NULL
)
SELECT document, count(*) AS rated_answers,
       sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) / count(*), 1) AS negative_pct
FROM cited GROUP BY document
ORDER BY negative DESC, negative_pct DESC, document LIMIT 50;

-- section: With and without query rewriting
WITH r AS (
  SELECT feedback_positive, json_get_bool(extra, 'wasQueryRewritten') AS rewritten
  FROM messages WHERE role = 'assistant' AND feedback_positive IS NOT NULL
)
SELECT CASE WHEN rewritten THEN 'rewritten' WHEN NOT rewritten THEN 'not rewritten'
            ELSE '(not recorded)' END AS query,
       count(*) AS rated,
       sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) / count(*), 1) AS negative_pct
FROM r GROUP BY 1 ORDER BY 1;

-- section: Latest negatively rated answers
-- rows: 5
WITH neg AS (
  SELECT t.convo_id, t.question_index, t.answer_index, t.created_at, t.course_name,
         t.model_id, t.user_email, t.question, t.answer, t.feedback_category
  FROM turns t WHERE t.feedback_positive = false
),
docs AS (
  SELECT n.convo_id, n.answer_index,
         array_to_string(array_sort(array_agg(DISTINCT coalesce(x.readable_filename, x.s3_path, x.url)
           || coalesce(' p.' || CAST(x.pagenumber AS VARCHAR), ''))), '; ') AS retrieved
  FROM neg n JOIN contexts x
    ON x.convo_id = n.convo_id
   AND (x.message_index = n.question_index OR x.message_index = n.answer_index)
  GROUP BY n.convo_id, n.answer_index
)
SELECT to_char(n.created_at, '%Y-%m-%d %H:%M') AS asked, n.course_name AS course,
       n.model_id AS model, n.user_email, n.question, n.answer, d.retrieved,
       n.feedback_category AS category, a.feedback_details AS comment
FROM neg n
LEFT JOIN docs d ON d.convo_id = n.convo_id AND d.answer_index = n.answer_index
LEFT JOIN messages a ON a.convo_id = n.convo_id AND a.message_index = n.answer_index
ORDER BY n.created_at DESC NULLS LAST, n.convo_id, n.answer_index LIMIT 20;
