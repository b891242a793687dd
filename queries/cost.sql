-- title: Cost (estimate)
-- description: Estimated tokens and USD per model, course, month and user, priced from the price table (queries/prices.csv or --prices; the newest price in force that day, else the first listed). Estimates: tokens are counted with o200k_base; input is the final prompt the backend sent when the export has it, else system prompt + earlier messages + the question's retrieved context text, plus 4 tokens per message and 3 to prime the answer.
-- params: since, until, course, user

-- setup
-- The tokens of each answer's retrieved contexts, computed once: the view below reads them
-- twice (for the question and for the answer), and a CTE read twice is computed twice.
CREATE VIEW context_tokens AS
SELECT convo_id, message_index, sum(token_count(text)) AS tokens
FROM contexts GROUP BY convo_id, message_index;

-- setup
CREATE VIEW answer_costs AS
WITH m AS (
  SELECT convo_id, message_index, role, system_message, final_prompt,
         token_count(content) AS tokens
  FROM messages
),
h AS (
  SELECT convo_id, message_index, role, tokens,
         coalesce(sum(tokens) OVER before_q, 0) AS history_tokens,
         count(*) OVER before_q AS history_messages,
         LAG(role) OVER w AS q_role,
         LAG(message_index) OVER w AS q_index,
         LAG(tokens) OVER w AS q_tokens,
         LAG(system_message) OVER w AS q_system,
         LAG(final_prompt) OVER w AS q_final
  FROM m
  WINDOW w AS (PARTITION BY convo_id ORDER BY message_index),
         before_q AS (PARTITION BY convo_id ORDER BY message_index
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING)
),
a AS (
  SELECT h.convo_id, h.message_index, c.course_name, c.user_email, c.created_at,
         coalesce(c.model_id, '(unknown)') AS model,
         token_count(coalesce(h.q_system, c.prompt)) + h.history_tokens
           + CASE WHEN h.q_final IS NOT NULL THEN token_count(h.q_final)
                  ELSE h.q_tokens + coalesce(cq.tokens, 0) + coalesce(ca.tokens, 0) END
           + 4 * (h.history_messages + 2) + 3 AS input_tokens,
         h.tokens AS output_tokens
  FROM h
  JOIN conversations c ON c.convo_id = h.convo_id
  LEFT JOIN context_tokens cq ON cq.convo_id = h.convo_id AND cq.message_index = h.q_index
  LEFT JOIN context_tokens ca ON ca.convo_id = h.convo_id AND ca.message_index = h.message_index
  WHERE h.role = 'assistant' AND h.q_role = 'user'
),
matched AS (
  SELECT m.model, p.valid_from, p.input_usd_per_1m, p.output_usd_per_1m
  FROM (SELECT DISTINCT model FROM a) m
  JOIN prices p ON regexp_like(m.model, p.model_pattern, 'i')
),
ranked AS (
  -- The newest price in force on the day of the conversation; for a conversation from
  -- before the model's first listed price, that first price.
  SELECT a.*, p.input_usd_per_1m, p.output_usd_per_1m,
         row_number() OVER (
           PARTITION BY a.convo_id, a.message_index
           ORDER BY CASE WHEN p.valid_from <= a.created_at THEN 0 ELSE 1 END,
                    CASE WHEN p.valid_from <= a.created_at THEN p.valid_from END DESC NULLS LAST,
                    p.valid_from) AS pick
  FROM a LEFT JOIN matched p ON p.model = a.model
)
SELECT convo_id, message_index, course_name, user_email, created_at, model,
       input_tokens, output_tokens,
       input_usd_per_1m IS NOT NULL AS priced,
       input_tokens * input_usd_per_1m / 1e6 AS input_usd,
       output_tokens * output_usd_per_1m / 1e6 AS output_usd
FROM ranked WHERE pick = 1;

-- section: Total (estimate)
SELECT count(*) AS answers,
       sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens,
       round(sum(input_usd) + sum(output_usd), 4) AS est_usd,
       sum(CASE WHEN priced THEN 0 ELSE 1 END) AS unpriced_answers
FROM answer_costs;

-- section: Per model (estimate)
-- chart: hbar model est_usd
SELECT model, count(*) AS answers,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       round(sum(input_usd), 4) AS input_usd, round(sum(output_usd), 4) AS output_usd,
       round(sum(input_usd) + sum(output_usd), 4) AS est_usd
FROM answer_costs WHERE priced
GROUP BY model ORDER BY est_usd DESC, model;

-- section: Per course (estimate)
-- chart: hbar course est_usd
SELECT coalesce(course_name, '(none)') AS course, count(*) AS answers,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       round(sum(input_usd) + sum(output_usd), 4) AS est_usd
FROM answer_costs WHERE priced
GROUP BY 1 ORDER BY est_usd DESC, course;

-- section: Per month (estimate)
-- chart: bar month est_usd
-- rows: 6
SELECT to_char(date_trunc('month', created_at), '%Y-%m') AS month, count(*) AS answers,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       round(sum(input_usd) + sum(output_usd), 4) AS est_usd
FROM answer_costs WHERE priced AND created_at IS NOT NULL
GROUP BY 1 ORDER BY 1;

-- section: Top users (estimate)
-- rows: 8
SELECT coalesce(user_email, '(anonymous)') AS user_email, count(*) AS answers,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       round(sum(input_usd) + sum(output_usd), 4) AS est_usd
FROM answer_costs WHERE priced
GROUP BY 1 ORDER BY est_usd DESC, user_email LIMIT 20;

-- section: Models without a price (not counted above)
SELECT model, count(*) AS answers, sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens
FROM answer_costs WHERE NOT priced
GROUP BY model ORDER BY answers DESC, model;
