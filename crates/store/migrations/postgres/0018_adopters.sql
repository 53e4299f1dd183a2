-- The adopter directory (issue 16): the agencies that chose to be listed,
-- with what they show beside their entry. Opting out deletes the row; how
-- far an agency has come is read from its engagements, never kept here.
CREATE TABLE adopters (
    agency_id BIGINT PRIMARY KEY REFERENCES agencies (id),
    contact TEXT NOT NULL,
    case_study TEXT NOT NULL,
    listed_by BIGINT NOT NULL REFERENCES people (id),
    listed_at BIGINT NOT NULL
);
