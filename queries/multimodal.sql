-- title: Multimodal and tools
-- description: Questions with images or files, and the tools the assistant called.
-- params: since, until, course, user

-- section: Questions with images or files
SELECT count(*) AS questions,
       sum(CASE WHEN image_count > 0 THEN 1 ELSE 0 END) AS with_images,
       sum(coalesce(image_count, 0)) AS images,
       sum(CASE WHEN file_count > 0 THEN 1 ELSE 0 END) AS with_files,
       sum(coalesce(file_count, 0)) AS files
FROM messages WHERE role = 'user';

-- section: Per month
-- chart: bar month with_images,with_files
-- rows: 6
SELECT to_char(date_trunc('month', c.created_at), '%Y-%m') AS month,
       sum(CASE WHEN m.image_count > 0 THEN 1 ELSE 0 END) AS with_images,
       sum(CASE WHEN m.file_count > 0 THEN 1 ELSE 0 END) AS with_files
FROM messages m JOIN conversations c ON c.convo_id = m.convo_id
WHERE m.role = 'user' AND c.created_at IS NOT NULL
GROUP BY 1 HAVING sum(coalesce(m.image_count, 0) + coalesce(m.file_count, 0)) > 0 ORDER BY 1;

-- section: Tool calls
-- chart: hbar tool calls
SELECT tool, count(*) AS calls
FROM (
  SELECT json_get_str(extra, 'tools', 0, 'name') AS tool FROM messages
  UNION ALL SELECT json_get_str(extra, 'tools', 1, 'name') FROM messages
  UNION ALL SELECT json_get_str(extra, 'tools', 2, 'name') FROM messages
  UNION ALL SELECT json_get_str(extra, 'tools', 3, 'name') FROM messages
  UNION ALL SELECT json_get_str(extra, 'tools', 4, 'name') FROM messages
) t
WHERE tool IS NOT NULL
GROUP BY 1 ORDER BY 2 DESC, 1;
