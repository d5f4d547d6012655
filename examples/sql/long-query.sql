-- A long query to stop: 'atrium sql stop sql-…' cancels it in PostgreSQL
-- (it disappears from pg_stat_activity) and the job ends Stopped.
SELECT pg_sleep(600);
