-- title: Overview
-- description: Conversations, messages, users, anonymous share, courses, first and last activity.
-- params: since, until, course, user

-- section: Totals
SELECT
  (SELECT count(*) FROM conversations) AS conversations,
  (SELECT count(*) FROM messages) AS messages,
  (SELECT count(*) FROM messages WHERE role = 'user') AS questions,
  (SELECT count(DISTINCT user_email) FROM conversations) AS users,
  (SELECT round(100.0 * sum(CASE WHEN user_email IS NULL THEN 1 ELSE 0 END) / nullif(count(*), 0), 1)
     FROM conversations) AS anonymous_pct,
  (SELECT count(DISTINCT course_name) FROM conversations) AS courses,
  (SELECT to_char(min(created_at), '%Y-%m-%d %H:%M') FROM conversations) AS first_activity,
  (SELECT to_char(max(created_at), '%Y-%m-%d %H:%M') FROM conversations) AS last_activity;
