-- Reads look up the record links of many contacts at once.
CREATE INDEX record_links_contact ON record_links (tenant, contact_id);
