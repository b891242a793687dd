-- title: Users
-- description: Top users by conversations and questions; new and returning users per month.
-- params: since, until, course, user

-- section: Top users
-- chart: hbar user_email conversations
-- rows: 8
SELECT c.user_email,
       count(DISTINCT c.convo_id) AS conversations,
       sum(CASE WHEN m.role = 'user' THEN 1 ELSE 0 END) AS questions,
       to_char(min(c.created_at), '%Y-%m-%d') AS first_seen,
       to_char(max(c.created_at), '%Y-%m-%d') AS last_seen
FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
WHERE c.user_email IS NOT NULL
GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1 LIMIT 20;

-- section: New and returning users per month
-- chart: bar month new_users,returning_users
-- rows: 6
WITH ua AS (
  SELECT user_email, to_char(date_trunc('month', created_at), '%Y-%m') AS month
  FROM conversations WHERE user_email IS NOT NULL AND created_at IS NOT NULL
), f AS (
  SELECT user_email, min(month) AS first_month FROM ua GROUP BY 1
)
SELECT ua.month,
       count(DISTINCT ua.user_email) AS active_users,
       count(DISTINCT CASE WHEN f.first_month = ua.month THEN ua.user_email END) AS new_users,
       count(DISTINCT CASE WHEN f.first_month < ua.month THEN ua.user_email END) AS returning_users
FROM ua JOIN f ON f.user_email = ua.user_email
GROUP BY 1 ORDER BY 1;
