-- Corrections of a person's details (Australian Privacy Principle 13): who
-- corrected which fields of whose record, and when. The old values are
-- not kept: they are what was corrected.
CREATE TABLE person_corrections (
    person_id BIGINT NOT NULL REFERENCES people (id),
    corrected_by BIGINT NOT NULL REFERENCES people (id),
    at BIGINT NOT NULL,
    fields TEXT NOT NULL
);
CREATE INDEX person_corrections_person ON person_corrections (person_id, at);
