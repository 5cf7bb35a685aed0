-- Indexes FerretDB v1 can use, in the PostgreSQL database it stores in.
--
-- FerretDB v1 (PostgreSQL backend) pushes an equality filter down as JSON
-- containment, `_jsonb -> 'field' @> '"value"'`, and builds each of our
-- MongoDB indexes as a B-tree on `(_jsonb -> 'field')`. A B-tree serves `=`,
-- not `@>`, so every filtered read scanned the whole collection: a product's
-- stats or a user's feed cost time in proportion to every event stored, where
-- MongoDB reads the index. This gives the leading field of every such B-tree a
-- GIN index beside it, which serves `@>`, so those reads use an index here as
-- they do on MongoDB. FerretDB neither knows nor needs to know of them: they
-- go when its table goes.
--
-- Applied by the local stack to FerretDB's database (scripts/stack.py), as the
-- superuser it runs PostgreSQL with (an event trigger needs one); idempotent.
-- An event trigger covers indexes FerretDB creates later, the last statement
-- the ones that exist already.

CREATE OR REPLACE FUNCTION sandbox_gin_beside(btree regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    field text;
    target regclass;
    name text;
BEGIN
    SELECT substring(pg_get_indexdef(i.indexrelid, 1, true)
                     FROM '^\(_jsonb -> ''([^'']+)''::text\)$'),
           i.indrelid::regclass,
           left(c.relname, 59) || '_gin'
      INTO field, target, name
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_am am ON am.oid = c.relam
     WHERE i.indexrelid = btree AND am.amname = 'btree'
       AND NOT i.indisunique  -- _id, event_id: written, not read by equality here
       AND t.relname NOT LIKE '\_ferretdb\_%';  -- its own metadata, read by key
    IF field IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)',
                   name, target, field);
END
$$;

CREATE OR REPLACE FUNCTION sandbox_gin_on_create_index() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    created record;
BEGIN
    FOR created IN
        SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'index'
    LOOP
        PERFORM sandbox_gin_beside(created.objid::regclass);
    END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS sandbox_gin_beside_btree;
CREATE EVENT TRIGGER sandbox_gin_beside_btree ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION sandbox_gin_on_create_index();

SELECT sandbox_gin_beside(i.indexrelid::regclass)
  FROM pg_index i
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = '_jsonb'
 WHERE t.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace);
