//! A real OpenLDAP server for the directory tests: Debian's `slapd`, started on a loopback
//! port with a throwaway configuration and database (`make test` installs it). People:
//!
//! | uid     | password  | mail               | sAMAccountName | employeeNumber |
//! | ------- | --------- | ------------------ | -------------- | -------------- |
//! | `ada`   | `pw-ada`  | `ada@example.com`  | `ADA`          | `1001`         |
//! | `grace` | `pw-grace`| `grace@example.com`| `GRACE`        | `1002`         |
//! | `nomail`| `pw-nomail`| (none)            | `NOMAIL`       | `1003`         |
//! | `jdoe`  | `pw-jdoe` | `jdoe@example.com` | `JDOE`         | `1004`         |
//! | `jdoe2` | `pw-jdoe2`| `jdoe2@example.com`| `JDOE2`        | `1005`         |
//!
//! under `ou=people,dc=example,dc=com`; the service account `cn=latch,dc=example,dc=com`
//! (password `svc-secret`) may search, anonymous clients may only bind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BASE: &str = "ou=people,dc=example,dc=com";
pub const SERVICE_DN: &str = "cn=latch,dc=example,dc=com";
pub const SERVICE_PASSWORD: &str = "svc-secret";
const ADMIN_DN: &str = "cn=admin,dc=example,dc=com";
const ADMIN_PASSWORD: &str = "admin-secret";

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const LDAPMODIFY: &str = "/usr/bin/ldapmodify";

/// A schema of the two Active Directory attributes the tests search by, with the matching
/// rules AD gives them (the `msuser` schema Debian ships has none, so no filter matches).
const AD_SCHEMA: &str = "\
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch \
SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch \
SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'adAccount' SUP top AUXILIARY \
MAY ( sAMAccountName $ userPrincipalName ) )
";

pub struct Slapd {
    dir: tempfile::TempDir,
    pub port: u16,
    /// The `ldaps://` port, when started with TLS.
    pub tls_port: Option<u16>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn person(uid: &str, mail: Option<&str>, number: u32) -> String {
    let mail = mail.map(|m| format!("mail: {m}\n")).unwrap_or_default();
    let name = format!("{}{}", uid[..1].to_uppercase(), &uid[1..]);
    format!(
        "dn: uid={uid},{BASE}\nobjectClass: inetOrgPerson\nobjectClass: adAccount\n\
         uid: {uid}\ncn: {name} Example\nsn: Example\ngivenName: {name}\n{mail}\
         sAMAccountName: {}\nuserPrincipalName: {uid}@corp.example.com\n\
         employeeNumber: {number}\nuserPassword: pw-{uid}\n\n",
        uid.to_uppercase()
    )
}

impl Slapd {
    /// A directory on a loopback port; with `tls`, StartTLS on it and `ldaps://` on
    /// another, under a certificate of a CA of its own (`ca_path`).
    pub fn start(tls: bool) -> Slapd {
        for tool in [SLAPD, SLAPADD, LDAPMODIFY] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: the directory tests need OpenLDAP (Debian: apt-get install slapd ldap-utils; `make test` installs them)"
            );
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        std::fs::write(d.join("ad.schema"), AD_SCHEMA).unwrap();
        let tls_conf = if tls {
            make_certificates(d);
            format!(
                "TLSCACertificateFile {0}/ca.pem\nTLSCertificateFile {0}/server.pem\nTLSCertificateKeyFile {0}/server.key\n",
                d.display()
            )
        } else {
            String::new()
        };
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             include {0}/ad.schema\n\
             pidfile {0}/slapd.pid\n\
             {tls_conf}\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             database mdb\n\
             maxsize 10485760\n\
             suffix \"dc=example,dc=com\"\n\
             rootdn \"{ADMIN_DN}\"\n\
             rootpw {ADMIN_PASSWORD}\n\
             directory {0}/db\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by dn.exact=\"{SERVICE_DN}\" read by anonymous read by * none\n",
            d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        let mut ldif = format!(
            "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
             dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: latch\nuserPassword: {SERVICE_PASSWORD}\n\n\
             dn: {BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=moved,dc=example,dc=com\nobjectClass: organizationalUnit\nou: moved\n\n"
        );
        ldif += &person("ada", Some("ada@example.com"), 1001);
        ldif += &person("grace", Some("grace@example.com"), 1002);
        ldif += &person("nomail", None, 1003);
        ldif += &person("jdoe", Some("jdoe@example.com"), 1004);
        ldif += &person("jdoe2", Some("jdoe2@example.com"), 1005);
        std::fs::write(d.join("data.ldif"), ldif).unwrap();
        let out = Command::new(SLAPADD)
            .args(["-f", "slapd.conf", "-l", "data.ldif"])
            .current_dir(d)
            .output()
            .expect("slapadd runs");
        assert!(
            out.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut slapd = Slapd {
            dir,
            port: free_port(),
            tls_port: tls.then(free_port),
            child: None,
        };
        slapd.resume_service();
        slapd
    }

    /// `ldap://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!(
            "ldaps://127.0.0.1:{}",
            self.tls_port.expect("started with TLS")
        )
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The settings of a Latch that signs in against this directory by address, with the
    /// service bind.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LDAP_URL", self.url()),
            ("LDAP_USER_SEARCH_BASE", BASE.into()),
            ("LDAP_BIND_DN", SERVICE_DN.into()),
            ("LDAP_BIND_CREDENTIALS", SERVICE_PASSWORD.into()),
            ("LDAP_TIMEOUT", "2".into()),
        ]
    }

    /// Starts (again) on the same ports and data.
    pub fn resume_service(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut urls = format!("ldap://127.0.0.1:{}/", self.port);
        if let Some(tls) = self.tls_port {
            urls += &format!(" ldaps://127.0.0.1:{tls}/");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("slapd.log"))
            .unwrap();
        // `-d stats` keeps it in the foreground and logs each operation.
        let child = Command::new(SLAPD)
            .args(["-f", "slapd.conf", "-h", &urls, "-d", "stats"])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slapd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "slapd did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (its data stays for `resume_service`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server: connections are accepted by the kernel, nothing answers.
    pub fn freeze(&self, frozen: bool) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        let signal = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: signalling our own child process.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Applies an LDIF change as the directory's administrator.
    pub fn modify(&self, ldif: &str) {
        use std::io::Write as _;
        let mut child = Command::new(LDAPMODIFY)
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapmodify runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ldapmodify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The server's operation log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.freeze(false);
        }
        self.stop();
    }
}

/// A CA and a certificate for 127.0.0.1 and localhost it signed, by the `openssl` tool.
fn make_certificates(d: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Latch test directory CA",
    ]);
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}
