-- People from the host product are known by (issuer, subject): the token's `iss` (empty
-- when the host sends none) and `sub`. An email never decides who someone is: a second
-- `sub` with a known email is refused, not linked (unless --jwt-link-by-email).
CREATE TABLE identities (
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
-- One identity per person: a second `sub` never shares an account (two first sign-ins
-- racing to link one account by email: the second fails here).
CREATE UNIQUE INDEX identities_user_idx ON identities (user_id);

-- Links made before issuers were kept: the issuer is unknown (''), and the first sign-in
-- that names one takes the link over (`accounts::jwt`). Only accounts a hand-off made
-- (no password) keep theirs: a password account was linked by its email alone, which
-- is what issue 23 closed, so its link is dropped (the operator may re-allow it with
-- --jwt-link-by-email).
INSERT INTO identities (issuer, subject, user_id, created_at)
SELECT '', substr(external_id, 5), id, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)
FROM users WHERE external_id LIKE 'jwt:%' AND password_hash = '!';
DROP INDEX users_external_id_idx;
ALTER TABLE users DROP COLUMN external_id;
