-- title: Feedback
-- description: Thumbs up and down on answers: counts and rates, categories, over time and by model.
-- params: since, until, course, user

-- section: Totals
SELECT count(*) AS answers,
       sum(CASE WHEN feedback_positive THEN 1 ELSE 0 END) AS positive,
       sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * count(feedback_positive) / nullif(count(*), 0), 1) AS rated_pct,
       round(100.0 * sum(CASE WHEN feedback_positive THEN 1 ELSE 0 END)
             / nullif(count(feedback_positive), 0), 1) AS positive_pct
FROM messages WHERE role = 'assistant';

-- section: Categories
-- chart: hbar category answers
SELECT coalesce(feedback_category, '(none)') AS category,
       sum(CASE WHEN feedback_positive THEN 1 ELSE 0 END) AS positive,
       sum(CASE WHEN NOT feedback_positive THEN 1 ELSE 0 END) AS negative,
       count(*) AS answers
FROM messages WHERE feedback_positive IS NOT NULL
GROUP BY 1 ORDER BY 4 DESC, 1;

-- section: Per month
-- chart: bar month positive,negative
SELECT to_char(date_trunc('month', c.created_at), '%Y-%m') AS month,
       sum(CASE WHEN m.feedback_positive THEN 1 ELSE 0 END) AS positive,
       sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END) AS negative
FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
WHERE m.feedback_positive IS NOT NULL AND c.created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- section: By model
-- chart: hbar model positive,negative
SELECT coalesce(c.model_id, '(unknown)') AS model,
       sum(CASE WHEN m.feedback_positive THEN 1 ELSE 0 END) AS positive,
       sum(CASE WHEN NOT m.feedback_positive THEN 1 ELSE 0 END) AS negative,
       round(100.0 * sum(CASE WHEN m.feedback_positive THEN 1 ELSE 0 END) / count(*), 1) AS positive_pct
FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
WHERE m.feedback_positive IS NOT NULL
GROUP BY 1 ORDER BY count(*) DESC, 1;
