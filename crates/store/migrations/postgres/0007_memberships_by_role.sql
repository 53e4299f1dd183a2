-- Finding people by role (an agency's members, the partners and staff who
-- can be assigned) seeks exact roles instead of scanning every membership.
CREATE INDEX memberships_role ON memberships (role);
