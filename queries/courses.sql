-- title: Courses and models
-- description: Usage by course, models over time, and the temperatures used.
-- params: since, until, course, user

-- section: By course
-- chart: hbar course conversations
SELECT coalesce(c.course_name, '(unknown)') AS course,
       count(DISTINCT c.convo_id) AS conversations,
       sum(CASE WHEN m.role = 'user' THEN 1 ELSE 0 END) AS questions,
       count(DISTINCT c.user_email) AS users,
       to_char(min(c.created_at), '%Y-%m-%d') AS first_seen,
       to_char(max(c.created_at), '%Y-%m-%d') AS last_seen
FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
GROUP BY 1 ORDER BY 2 DESC, 1;

-- section: Models per month
-- chart: bar month conversations by model
-- rows: 8
SELECT to_char(date_trunc('month', created_at), '%Y-%m') AS month,
       coalesce(model_id, '(unknown)') AS model,
       count(*) AS conversations
FROM conversations WHERE created_at IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2;

-- section: Temperatures
-- chart: bar temperature conversations
SELECT CAST(temperature AS VARCHAR) AS temperature, count(*) AS conversations
FROM conversations WHERE temperature IS NOT NULL
GROUP BY temperature ORDER BY temperature;
