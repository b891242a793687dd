//! TLS to the services `export` loads into, against real servers with a certificate that
//! `openssl` makes for a test CA in each run: Debian's PostgreSQL (`CHATQL_PG_TLS_BIN`,
//! built with OpenSSL; the pgvector wheel's server is not, and Debian has no pgvector, so
//! these connections end at the server's "no extension vector" error, after TLS and SCRAM
//! authentication have run, which the server's log confirms), and the Qdrant stand-in served
//! over HTTPS. `sslmode=require` against the wheel's server (no TLS) is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::migrate::{python, qdrant_standin, Postgres};
use crate::common::{assert_ok, chatql, scratch, testdata_lake};

/// A test CA and a server certificate for `localhost` signed by it: (ca.pem, crt, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl (Debian's openssl package)");
        assert_ok(&out, format_args!("openssl {args:?}"));
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509", "-days", "2", "-subj", "/CN=chatql test CA"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-subj", "/CN=localhost"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

/// Debian's PostgreSQL binaries, or `None` (skip) when `CHATQL_PG_TLS_BIN` is not set.
fn tls_bin() -> Option<PathBuf> {
    let bin = std::env::var_os("CHATQL_PG_TLS_BIN").map(PathBuf::from);
    if bin.is_none() {
        assert!(
            std::env::var_os("CHATQL_REQUIRE_MIGRATE").is_none(),
            "CHATQL_REQUIRE_MIGRATE is set but CHATQL_PG_TLS_BIN is not"
        );
        eprintln!("skipped: CHATQL_PG_TLS_BIN (PostgreSQL with OpenSSL) is not set");
    }
    bin
}

/// `export --to pgvector -o url`: (exit code, stderr).
fn load(url: &str) -> (Option<i32>, String) {
    let out = chatql()
        .args([
            "export",
            testdata_lake().to_str().unwrap(),
            "--to",
            "pgvector",
            "-o",
            url,
        ])
        .env_remove("PGSSLMODE")
        .env_remove("PGSSLROOTCERT")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn postgres_over_tls_checks_what_sslmode_asks() {
    let Some(bin) = tls_bin() else { return };
    let dir = scratch("pg-tls-certs");
    let (ca, crt, key) = certificates(&dir);
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, "s3cret\n").unwrap();
    let _ = Command::new("chmod").arg("a+r").arg(&pwfile).status();
    let pw = format!("--pwfile={}", pwfile.display());
    let pg = Postgres::start_at(
        bin,
        &["--auth-local=trust", "--auth-host=scram-sha-256", &pw],
        |data| {
            std::fs::copy(&crt, data.join("server.crt")).unwrap();
            std::fs::copy(&key, data.join("server.key")).unwrap();
            let _ = Command::new("chmod")
                .arg("600")
                .arg(data.join("server.key"))
                .status();
            let _ = Command::new("chown")
                .args(["nobody"])
                .arg(data.join("server.crt"))
                .arg(data.join("server.key"))
                .stderr(Stdio::null())
                .status();
            "-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key \
             -c log_connections=on"
                .into()
        },
    );
    let url = |host: &str, query: &str| {
        format!(
            "postgresql://postgres:s3cret@{host}:{}/postgres?{query}",
            pg.port()
        )
    };
    let ca = ca.to_str().unwrap();
    let tls_sessions = || {
        pg.log()
            .matches("application_name=chatql SSL enabled")
            .count()
    };
    // Past TLS and SCRAM, the server's own answer: Debian's PostgreSQL has no pgvector.
    let reached = |(code, err): (Option<i32>, String), what: &str| {
        assert_ne!(code, Some(0), "{what}: {err}");
        assert!(
            err.contains("vector") && err.contains("SQLSTATE"),
            "{what}: {err}"
        );
        assert!(!err.contains("s3cret"), "{what}: {err}");
    };
    let refused = |(code, err): (Option<i32>, String), what: &str, why: &str| {
        assert_ne!(code, Some(0), "{what}: {err}");
        assert!(err.contains(why), "{what}: {err}");
        assert!(!err.contains("s3cret"), "{what}: {err}");
    };
    let root = format!("sslrootcert={ca}");
    reached(
        load(&url("localhost", &format!("sslmode=verify-full&{root}"))),
        "verify-full",
    );
    assert_eq!(tls_sessions(), 1, "{}", pg.log());
    reached(
        load(&url("127.0.0.1", &format!("sslmode=verify-ca&{root}"))),
        "verify-ca",
    );
    reached(load(&url("127.0.0.1", "sslmode=require")), "require");
    reached(load(&url("127.0.0.1", "")), "prefer, the default");
    assert_eq!(tls_sessions(), 4, "{}", pg.log());
    // The certificate names localhost, not 127.0.0.1; and Mozilla's roots do not hold the CA.
    refused(
        load(&url("127.0.0.1", &format!("sslmode=verify-full&{root}"))),
        "verify-full by address",
        "TLS handshake",
    );
    refused(
        load(&url("localhost", "sslmode=verify-full")),
        "verify-full without the CA",
        "TLS handshake",
    );
    refused(
        load(&url(
            "localhost",
            "sslmode=verify-full&sslrootcert=/nonexistent.pem",
        )),
        "a missing root file",
        "sslrootcert /nonexistent.pem",
    );
    assert_eq!(tls_sessions(), 4, "{}", pg.log());
    // Without TLS the same server takes the password in plain; the log says no SSL.
    reached(load(&url("127.0.0.1", "sslmode=disable")), "disable");
    assert_eq!(tls_sessions(), 4, "{}", pg.log());
    let sessions = pg.log().matches("application_name=chatql").count();
    assert_eq!(sessions, 5, "{}", pg.log());
}

/// A server without TLS: `require` is refused before any password is sent; `prefer` goes on
/// in plain (every other pgvector test connects this way).
#[test]
fn require_is_refused_by_a_server_without_tls() {
    let Some(bin) = std::env::var_os("CHATQL_PG_BIN").map(PathBuf::from) else {
        return;
    };
    let pg = Postgres::start_at(bin, &["-A", "trust"], |_| String::new());
    let (code, err) = load(&format!("{}?sslmode=require", pg.url("postgres")));
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("does not accept TLS"), "{err}");
}

/// The Qdrant stand-in over HTTPS: trusted through `SSL_CERT_FILE`, refused without it.
#[test]
fn https_is_verified_against_the_given_roots() {
    let Some(py) = python("qdrant_client") else {
        return;
    };
    let dir = scratch("https-certs");
    let (ca, crt, key) = certificates(&dir);
    let (_server, port) = qdrant_standin(&py, Some((&crt, &key)));
    let base = format!("https://localhost:{port}");
    let lake = testdata_lake();
    let export = |cert: Option<&Path>| {
        let mut c = chatql();
        c.args([
            "export",
            lake.to_str().unwrap(),
            "--to",
            "qdrant",
            "-o",
            &base,
        ]);
        match cert {
            Some(p) => c.env("SSL_CERT_FILE", p),
            None => c.env_remove("SSL_CERT_FILE"),
        };
        c.output().unwrap()
    };
    let out = export(None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&base), "{err}");
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
    let out = export(Some(&ca));
    assert_ok(&out, "export over https");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(": 5 new, 0 updated, 0 unchanged"), "{said}");
}
