-- title: Activity
-- description: Conversations, messages and active users per day, week and month.
-- params: since, until, course, user

-- section: Per month
-- chart: line month conversations,messages,active_users
-- rows: 12
SELECT to_char(date_trunc('month', c.created_at), '%Y-%m') AS month,
       count(DISTINCT c.convo_id) AS conversations,
       count(m.message_index) AS messages,
       count(DISTINCT c.user_email) AS active_users
FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
WHERE c.created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- section: Per week (starting Monday)
-- chart: line week conversations,messages,active_users
-- rows: 6
SELECT to_char(date_trunc('week', c.created_at), '%Y-%m-%d') AS week,
       count(DISTINCT c.convo_id) AS conversations,
       count(m.message_index) AS messages,
       count(DISTINCT c.user_email) AS active_users
FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
WHERE c.created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- section: Per day
-- chart: line day conversations,messages,active_users
-- rows: 7
SELECT to_char(date_trunc('day', c.created_at), '%Y-%m-%d') AS day,
       count(DISTINCT c.convo_id) AS conversations,
       count(m.message_index) AS messages,
       count(DISTINCT c.user_email) AS active_users
FROM conversations c LEFT JOIN messages m ON m.convo_id = c.convo_id
WHERE c.created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- section: Questions per hour of day
-- chart: bar hour questions
-- rows: 12
WITH q AS (
  SELECT CAST(date_part('hour', c.created_at) AS INT) AS hour
  FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
  WHERE m.role = 'user' AND c.created_at IS NOT NULL
)
SELECT h.hour, count(q.hour) AS questions
FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23)) AS h(hour)
LEFT JOIN q ON q.hour = h.hour
GROUP BY h.hour ORDER BY h.hour;

-- section: Questions per weekday
-- chart: bar weekday questions
WITH q AS (
  SELECT CAST(date_part('isodow', c.created_at) AS INT) AS dow
  FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
  WHERE m.role = 'user' AND c.created_at IS NOT NULL
),
d AS (
  SELECT * FROM (VALUES (1, 'Mon'), (2, 'Tue'), (3, 'Wed'), (4, 'Thu'), (5, 'Fri'),
                        (6, 'Sat'), (7, 'Sun')) AS t(dow, weekday)
)
SELECT d.weekday, count(q.dow) AS questions
FROM d LEFT JOIN q ON q.dow = d.dow
GROUP BY d.dow, d.weekday ORDER BY d.dow;

-- section: Questions by weekday and hour
-- chart: heatmap weekday
WITH q AS (
  SELECT CAST(date_part('isodow', c.created_at) AS INT) AS dow,
         CAST(date_part('hour', c.created_at) AS INT) AS hour
  FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
  WHERE m.role = 'user' AND c.created_at IS NOT NULL
),
d AS (
  SELECT * FROM (VALUES (1, 'Mon'), (2, 'Tue'), (3, 'Wed'), (4, 'Thu'), (5, 'Fri'),
                        (6, 'Sat'), (7, 'Sun')) AS t(dow, weekday)
)
SELECT d.weekday,
  sum(CASE WHEN q.hour = 0 THEN 1 ELSE 0 END) AS "0", sum(CASE WHEN q.hour = 1 THEN 1 ELSE 0 END) AS "1",
  sum(CASE WHEN q.hour = 2 THEN 1 ELSE 0 END) AS "2", sum(CASE WHEN q.hour = 3 THEN 1 ELSE 0 END) AS "3",
  sum(CASE WHEN q.hour = 4 THEN 1 ELSE 0 END) AS "4", sum(CASE WHEN q.hour = 5 THEN 1 ELSE 0 END) AS "5",
  sum(CASE WHEN q.hour = 6 THEN 1 ELSE 0 END) AS "6", sum(CASE WHEN q.hour = 7 THEN 1 ELSE 0 END) AS "7",
  sum(CASE WHEN q.hour = 8 THEN 1 ELSE 0 END) AS "8", sum(CASE WHEN q.hour = 9 THEN 1 ELSE 0 END) AS "9",
  sum(CASE WHEN q.hour = 10 THEN 1 ELSE 0 END) AS "10", sum(CASE WHEN q.hour = 11 THEN 1 ELSE 0 END) AS "11",
  sum(CASE WHEN q.hour = 12 THEN 1 ELSE 0 END) AS "12", sum(CASE WHEN q.hour = 13 THEN 1 ELSE 0 END) AS "13",
  sum(CASE WHEN q.hour = 14 THEN 1 ELSE 0 END) AS "14", sum(CASE WHEN q.hour = 15 THEN 1 ELSE 0 END) AS "15",
  sum(CASE WHEN q.hour = 16 THEN 1 ELSE 0 END) AS "16", sum(CASE WHEN q.hour = 17 THEN 1 ELSE 0 END) AS "17",
  sum(CASE WHEN q.hour = 18 THEN 1 ELSE 0 END) AS "18", sum(CASE WHEN q.hour = 19 THEN 1 ELSE 0 END) AS "19",
  sum(CASE WHEN q.hour = 20 THEN 1 ELSE 0 END) AS "20", sum(CASE WHEN q.hour = 21 THEN 1 ELSE 0 END) AS "21",
  sum(CASE WHEN q.hour = 22 THEN 1 ELSE 0 END) AS "22", sum(CASE WHEN q.hour = 23 THEN 1 ELSE 0 END) AS "23"
FROM d LEFT JOIN q ON q.dow = d.dow
GROUP BY d.dow, d.weekday ORDER BY d.dow;
