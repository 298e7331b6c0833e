-- See the Postgres migration of the same name.
CREATE TABLE identities (
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE UNIQUE INDEX identities_user_idx ON identities (user_id);

INSERT INTO identities (issuer, subject, user_id, created_at)
SELECT '', substr(external_id, 5), id, CAST(strftime('%s', 'now') AS INTEGER)
FROM users WHERE external_id LIKE 'jwt:%' AND password_hash = '!';
DROP INDEX users_external_id_idx;
ALTER TABLE users DROP COLUMN external_id;
