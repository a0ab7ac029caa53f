-- examples/aaa-tier/schema-extras.sql: what the shared AAA tier adds to
-- FreeRADIUS's PostgreSQL schemas (load after mods-config/sql/main/postgresql/
-- schema.sql and mods-config/sql/ippool/postgresql/schema.sql).

-- The gateway's NAS-Identifier (the stock table keeps only NASIPAddress), and
-- packet counts of the session (Acct-Input-Packets / Acct-Output-Packets of the
-- last Interim-Update or the Stop), written by policy.d/aaa-tier.
ALTER TABLE radacct ADD COLUMN IF NOT EXISTS nasidentifier text;
ALTER TABLE radacct ADD COLUMN IF NOT EXISTS acctinputpackets bigint;
ALTER TABLE radacct ADD COLUMN IF NOT EXISTS acctoutputpackets bigint;

-- allocate_existing of aaa-tier-queries.conf looks a user's previous lease up
-- by pool and pool_key (the user name).
CREATE INDEX IF NOT EXISTS radippool_pool_key ON radippool (pool_name, pool_key);

-- One row per address and pool: allocation updates rows, it never inserts.
CREATE UNIQUE INDEX IF NOT EXISTS radippool_pool_address ON radippool (pool_name, framedipaddress);
