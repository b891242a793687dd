-- title: Retrieval
-- description: Contexts per question, questions answered without context, most cited documents and pages, and (with a document export) coverage per document.
-- params: since, until, course, user

-- section: Questions and contexts
SELECT count(*) AS questions,
       sum(context_count) AS contexts,
       round(avg(context_count), 2) AS avg_contexts,
       sum(CASE WHEN context_count = 0 THEN 1 ELSE 0 END) AS without_context,
       round(100.0 * sum(CASE WHEN context_count = 0 THEN 1 ELSE 0 END) / nullif(count(*), 0), 1)
         AS without_context_pct
FROM turns;

-- section: Contexts per question
-- chart: bar contexts questions
SELECT CASE WHEN context_count = 0 THEN '0' WHEN context_count <= 5 THEN '1-5'
            WHEN context_count <= 10 THEN '6-10' WHEN context_count <= 20 THEN '11-20'
            WHEN context_count <= 50 THEN '21-50' ELSE '51+' END AS contexts,
       count(*) AS questions
FROM turns GROUP BY 1 ORDER BY min(context_count);

-- section: Most cited documents
-- chart: hbar document citations
-- rows: 8
SELECT readable_filename AS document, count(*) AS citations,
       count(DISTINCT convo_id) AS conversations
FROM contexts WHERE readable_filename IS NOT NULL
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20;

-- section: Most cited pages
-- rows: 8
SELECT readable_filename AS document, pagenumber AS page, count(*) AS citations
FROM contexts WHERE readable_filename IS NOT NULL AND pagenumber IS NOT NULL
GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 20;

-- section: Documents never retrieved
-- rows: 10
-- (Equality joins, not NOT EXISTS with an OR: that plans as a nested loop over every pair,
-- and Ballista runs its anti join once per task.)
SELECT d.readable_filename AS document, d.course_name AS course, d.chunk_count AS chunks
FROM documents d
LEFT JOIN (SELECT DISTINCT s3_path FROM contexts WHERE s3_path <> '') xs
  ON d.s3_path <> '' AND xs.s3_path = d.s3_path
LEFT JOIN (SELECT DISTINCT url FROM contexts WHERE url <> '') xu
  ON d.url <> '' AND xu.url = d.url
WHERE xs.s3_path IS NULL AND xu.url IS NULL
ORDER BY 2, 1;

-- section: Retrieval coverage per document
-- chart: hbar document coverage_pct
-- rows: 10
WITH cited AS (
  SELECT DISTINCT k.doc_id, k.course_name, k.chunk_index
  FROM chunks k JOIN contexts x
    ON x.text = k.text
   AND ((k.s3_path <> '' AND x.s3_path = k.s3_path) OR (k.url <> '' AND x.url = k.url))
)
SELECT d.readable_filename AS document,
       d.chunk_count AS chunks,
       count(cited.chunk_index) AS chunks_retrieved,
       round(100.0 * count(cited.chunk_index) / nullif(d.chunk_count, 0), 1) AS coverage_pct
FROM documents d
LEFT JOIN cited ON cited.doc_id = d.doc_id AND cited.course_name = d.course_name
GROUP BY 1, 2 ORDER BY 4 DESC NULLS LAST, 1;
