-- A SQL job (issue 8 acceptance 3): create a table, fill it, read it back.
-- Run it with:
--   atrium connection create --name dw --url 'postgres://USER@HOST:5432/DB?sslmode=disable' --password-stdin
--   atrium sql run --connection conn-… -f examples/sql/create-and-select.sql --wait
-- The job records the rows its statements affected and a preview of the
-- first 100 rows of the last statement that returned rows.
CREATE TABLE IF NOT EXISTS atrium_example (id int PRIMARY KEY, name text);
INSERT INTO atrium_example VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma') ON CONFLICT (id) DO NOTHING;
SELECT id, name FROM atrium_example ORDER BY id;
