-- Fills kwollect's nodetime_per_job from an OAR database, so that metrics_by_job and
-- get_metrics(job_id => …) answer for OAR jobs.
--
-- OAR's tables read (as OAR 2.5's sources/core/database/pg_structure.sql defines them):
--   jobs (job_id, start_time, stop_time: Unix seconds, 0 while unset; assigned_moldable_job)
--   moldable_job_descriptions (moldable_id, moldable_job_id → jobs.job_id)
--   assigned_resources (moldable_job_id → moldable_job_descriptions.moldable_id, resource_id)
--   resources (resource_id, network_address: the node's host name)
-- Checked against OAR 2.5's schema; OAR 3 keeps these tables and columns, but that was not
-- checked here.
--
-- The OAR tables must be visible in a schema named `oar` of the kwollect database. When OAR's
-- database is on another server (the usual case), postgres_fdw (part of PostgreSQL) does it:
--
--   CREATE EXTENSION IF NOT EXISTS postgres_fdw;
--   CREATE SERVER oar_db FOREIGN DATA WRAPPER postgres_fdw
--     OPTIONS (host 'oar-server.site', port '5432', dbname 'oar2');
--   CREATE USER MAPPING FOR kwuser SERVER oar_db OPTIONS (user 'oarreader', password '…');
--   CREATE SCHEMA IF NOT EXISTS oar;
--   IMPORT FOREIGN SCHEMA public
--     LIMIT TO (jobs, moldable_job_descriptions, assigned_resources, resources)
--     FROM SERVER oar_db INTO oar;
--
-- Then load this file once (psql -d kwdb -f oar-nodetime.sql) and call the function
-- regularly, e.g. every minute from cron, or from OAR's server prologue and epilogue:
--
--   psql -d kwdb -c 'SELECT refresh_nodetime_per_job()'                     -- every job
--   psql -d kwdb -c "SELECT refresh_nodetime_per_job(interval '1 day')"     -- recent ones
--
-- Node names: kwollect's device ids are short host names (node-1), OAR's network_address is
-- often a fully qualified one (node-1.lyon.grid5000.fr): the first label is kept.

CREATE OR REPLACE FUNCTION refresh_nodetime_per_job(since interval DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
AS $refresh$
DECLARE
  changed integer;
BEGIN
  INSERT INTO nodetime_per_job AS n (job_id, start_time, stop_time, node)
  SELECT DISTINCT
         j.job_id::integer,
         to_timestamp(j.start_time),
         CASE WHEN j.stop_time > 0 THEN to_timestamp(j.stop_time) END,
         split_part(r.network_address, '.', 1)
    FROM oar.jobs j
    JOIN oar.moldable_job_descriptions m ON m.moldable_id = j.assigned_moldable_job
                                        AND m.moldable_job_id = j.job_id
    JOIN oar.assigned_resources a ON a.moldable_job_id = m.moldable_id
    JOIN oar.resources r ON r.resource_id = a.resource_id
   WHERE j.start_time > 0
     AND r.network_address <> ''
     AND (since IS NULL OR j.stop_time = 0 OR j.stop_time >= extract(epoch FROM now() - since))
  ON CONFLICT (job_id, node) DO UPDATE
     SET start_time = excluded.start_time, stop_time = excluded.stop_time
   WHERE (n.start_time, n.stop_time) IS DISTINCT FROM (excluded.start_time, excluded.stop_time);
  GET DIAGNOSTICS changed = ROW_COUNT;
  RETURN changed;
END;
$refresh$;
