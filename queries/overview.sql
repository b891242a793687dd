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

-- section: Headline
-- chart: tiles
SELECT count(*) AS conversations,
       (SELECT count(*) FROM messages WHERE role = 'user') AS questions,
       count(DISTINCT user_email) AS users,
       round(count(*) * 1.0 / nullif(count(DISTINCT user_email), 0), 2) AS conversations_per_user,
       round((SELECT count(*) FROM messages WHERE role = 'user') * 1.0
             / nullif(count(DISTINCT user_email), 0), 2) AS questions_per_user,
       round((SELECT count(*) FROM messages WHERE role = 'user') * 1.0 / nullif(count(*), 0), 2)
         AS questions_per_conversation
FROM conversations;

-- section: Last 7 days against the 7 before
-- chart: trend metric
WITH w AS (SELECT end_day FROM report_window),
c AS (
  SELECT c.convo_id, c.user_email,
         CASE WHEN CAST(c.created_at AS DATE) > w.end_day - INTERVAL '7 days'
                   AND CAST(c.created_at AS DATE) <= w.end_day THEN 'last'
              WHEN CAST(c.created_at AS DATE) > w.end_day - INTERVAL '14 days'
                   AND CAST(c.created_at AS DATE) <= w.end_day - INTERVAL '7 days' THEN 'previous'
         END AS period
  FROM conversations c CROSS JOIN w
),
q AS (
  SELECT c.period FROM messages m JOIN c ON c.convo_id = m.convo_id WHERE m.role = 'user'
),
t AS (
  SELECT 1 AS ord, 'conversations' AS metric,
         sum(CASE WHEN period = 'last' THEN 1 ELSE 0 END) AS last_7_days,
         sum(CASE WHEN period = 'previous' THEN 1 ELSE 0 END) AS previous_7_days
  FROM c
  UNION ALL
  SELECT 2, 'questions',
         coalesce(sum(CASE WHEN period = 'last' THEN 1 ELSE 0 END), 0),
         coalesce(sum(CASE WHEN period = 'previous' THEN 1 ELSE 0 END), 0)
  FROM q
  UNION ALL
  SELECT 3, 'users',
         count(DISTINCT CASE WHEN period = 'last' THEN user_email END),
         count(DISTINCT CASE WHEN period = 'previous' THEN user_email END)
  FROM c
)
SELECT metric, last_7_days, previous_7_days,
       round(100.0 * (last_7_days - previous_7_days) / nullif(previous_7_days, 0), 1) AS change_pct,
       (SELECT to_char(end_day, '%Y-%m-%d') FROM report_window) AS window_end
FROM t ORDER BY ord;

-- section: Models
-- chart: hbar model conversations
SELECT coalesce(model_id, '(unknown)') AS model, count(*) AS conversations,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS share_pct
FROM conversations GROUP BY 1 ORDER BY 2 DESC, 1;
