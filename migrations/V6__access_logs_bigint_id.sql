-- access_logs.id was a 32-bit SERIAL. At the ~4 000 audited requests/s the
-- key server sustains, 2^31 ids last about six days; after that every audited
-- request fails closed (the audit row cannot be written). 64-bit ids last
-- longer than the hardware. The column change rewrites the table once.
ALTER TABLE access_logs ALTER COLUMN id TYPE BIGINT;
ALTER SEQUENCE access_logs_id_seq AS BIGINT;
