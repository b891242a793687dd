-- title: Activity
-- description: Conversations, messages and active users per day, week and month.
-- params: since, until, course, user

-- section: Per month
-- chart: line month conversations,messages,active_users
SELECT to_char(date_trunc('month', c.created_at), '%Y-%m') AS month,
       count(DISTINCT c.convo_id) AS conversations,
       count(m.message_index) AS messages,
       count(DISTINCT c.user_email) AS active_users
FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
WHERE c.created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- section: Per week (starting Monday)
-- chart: line week conversations,messages,active_users
SELECT to_char(date_trunc('week', c.created_at), '%Y-%m-%d') AS week,
       count(DISTINCT c.convo_id) AS conversations,
       count(m.message_index) AS messages,
       count(DISTINCT c.user_email) AS active_users
FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
WHERE c.created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- section: Per day
-- chart: line day conversations,messages,active_users
SELECT to_char(date_trunc('day', c.created_at), '%Y-%m-%d') AS day,
       count(DISTINCT c.convo_id) AS conversations,
       count(m.message_index) AS messages,
       count(DISTINCT c.user_email) AS active_users
FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
WHERE c.created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;
