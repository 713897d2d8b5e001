//! Whether this host's name service switch is safe for the static glibc build.
//!
//! The container image runs a static glibc build (faster than static musl: BENCHMARKS.md,
//! "the container ships a static glibc build"). It resolves host names (webhook hosts, `--url`) with the two sources
//! built into glibc, `files` and `dns`. Any other source that `/etc/nsswitch.conf` names
//! for `hosts` (`myhostname`, `resolve`, `mdns4_minimal`, …) is a shared library,
//! `libnss_<source>.so.2`, that glibc loads into the process on a lookup, with the host's
//! `libc.so.6` — and a static program can host only modules of the very glibc build it
//! linked: run on a Debian 13 root with `hosts: myhostname files dns`, the Debian 12 build
//! died of SIGFPE on its first lookup. In the image there are no such libraries; on a host
//! there usually are. So that build checks at start and refuses to run, naming the module,
//! rather than die on its first webhook — unless the host's `libc.so.6` is the glibc it
//! linked (same banner), the case glibc supports (the machine it was built on, say). (The
//! portable static musl build and the dynamic build use the host's resolver safely.)

use std::path::Path;

/// The name service switch's configuration, relative to the root checked.
const NSSWITCH: &str = "etc/nsswitch.conf";

/// The first line of the banner of the glibc this build linked in, as its `libc.so.6`
/// prints it (`build-static.sh --libc glibc` and the Dockerfile set it at build time).
pub const LINKED_GLIBC: Option<&str> = option_env!("DRIFTGUARD_LINKED_GLIBC");

/// The `hosts` sources glibc has built in: they load nothing.
const BUILT_IN: [&str; 2] = ["files", "dns"];

/// Where glibc's loader finds `libnss_*` modules on x86_64 distributions (multiarch first).
const MODULE_DIRS: [&str; 6] = [
    "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu",
    "lib64",
    "usr/lib64",
    "lib",
    "usr/lib",
];

/// The sources named for `hosts` in `nsswitch` (the file's text) that glibc would load as
/// modules, in order. Comments and `[STATUS=action]` items are skipped.
fn loadable_hosts_sources(nsswitch: &str) -> Vec<&str> {
    let mut sources = Vec::new();
    for line in nsswitch.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let Some(services) = line.strip_prefix("hosts") else {
            continue;
        };
        let Some(services) = services.trim_start().strip_prefix(':') else {
            continue;
        };
        // An action item may hold spaces ("[NOTFOUND = return]"): skip to its `]`.
        let mut in_action = false;
        for word in services.split_whitespace() {
            if in_action || word.starts_with('[') {
                in_action = !word.ends_with(']');
                continue;
            }
            if !BUILT_IN.contains(&word) && !sources.contains(&word) {
                sources.push(word);
            }
        }
    }
    sources
}

/// `Err` with the reason when, under `root`, `/etc/nsswitch.conf` names a `hosts` source
/// whose module exists and the `libc.so.6` beside it is not the glibc `linked` names: a
/// static glibc program would load them and crash. No file (glibc then uses `dns` and
/// `files`) or only built-in sources is fine.
pub fn check(root: &Path, linked: Option<&str>) -> Result<(), String> {
    let Ok(nsswitch) = std::fs::read_to_string(root.join(NSSWITCH)) else {
        return Ok(());
    };
    for source in loadable_hosts_sources(&nsswitch) {
        let module = format!("libnss_{source}.so.2");
        let Some(dir) = MODULE_DIRS
            .iter()
            .find(|dir| root.join(dir).join(&module).exists())
        else {
            continue;
        };
        let host = host_glibc(root);
        if linked.is_some_and(|linked| host.as_deref() == Some(linked)) {
            return Ok(());
        }
        return Err(format!(
            "this is the static glibc build made for the container image, and on this host \
             /etc/nsswitch.conf has host names looked up with `{source}`, which would load \
             /{dir}/{module} and this host's glibc ({}) into it; a static program can load \
             only modules of the glibc it linked ({}), others crash it on the first lookup. \
             Run the portable static build (packaging/docker/build-static.sh), the .deb or a \
             build made on this host instead.",
            host.as_deref().unwrap_or("not found"),
            linked.unwrap_or("not recorded at build time"),
        ));
    }
    Ok(())
}

/// The banner's first line of the `libc.so.6` under `root` that glibc's loader would find.
fn host_glibc(root: &Path) -> Option<String> {
    let library = MODULE_DIRS
        .iter()
        .find_map(|dir| std::fs::read(root.join(dir).join("libc.so.6")).ok())?;
    glibc_banner(&library).map(str::to_owned)
}

/// "GNU C Library (…) stable release version …." as a glibc library's bytes hold it.
fn glibc_banner(library: &[u8]) -> Option<&str> {
    const START: &[u8] = b"GNU C Library";
    let at = library.windows(START.len()).position(|w| w == START)?;
    let rest = &library[at..];
    let end = rest
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sources_outside_glibc_count() {
        assert!(loadable_hosts_sources("hosts: files dns\n").is_empty());
        assert_eq!(
            loadable_hosts_sources(
                "# comment hosts: nis\npasswd: files systemd\n\
                 hosts:   files myhostname resolve [!UNAVAIL=return] dns # trailing\n"
            ),
            ["myhostname", "resolve"]
        );
        // Action items with spaces, a repeated source, a line that only starts like hosts.
        assert_eq!(
            loadable_hosts_sources(
                "hostsx: wins\nhosts: mdns4_minimal [NOTFOUND = return] dns mdns4_minimal\n"
            ),
            ["mdns4_minimal"]
        );
        assert!(loadable_hosts_sources("").is_empty());
    }

    #[test]
    fn a_named_module_that_exists_is_refused() {
        let root = tempfile::tempdir().expect("temp dir");
        let linked = Some("GNU C Library (Test GLIBC 9.9-1) stable release version 9.9.");
        // No nsswitch.conf: glibc's defaults are built in.
        assert_eq!(check(root.path(), linked), Ok(()));

        std::fs::create_dir_all(root.path().join("etc")).expect("etc");
        std::fs::write(root.path().join(NSSWITCH), "hosts: files myhostname dns\n")
            .expect("nsswitch");
        // Named, but no module to load: glibc skips the source.
        assert_eq!(check(root.path(), linked), Ok(()));

        let dir = root.path().join("usr/lib64");
        std::fs::create_dir_all(&dir).expect("lib dir");
        std::fs::write(dir.join("libnss_myhostname.so.2"), b"").expect("module");
        let why = check(root.path(), linked).expect_err("refused");
        assert!(why.contains("`myhostname`"), "{why}");
        assert!(why.contains("/usr/lib64/libnss_myhostname.so.2"), "{why}");
        assert!(why.contains("glibc (not found)"), "{why}");

        // Another glibc beside it: refused, naming both.
        let banner = |version: &str| {
            format!("\0\x7fELF…GNU C Library (Test GLIBC {version}) stable release version 9.9.\nCopyright (C)")
        };
        std::fs::write(dir.join("libc.so.6"), banner("9.9-2")).expect("libc");
        let why = check(root.path(), linked).expect_err("refused");
        assert!(
            why.contains("(GNU C Library (Test GLIBC 9.9-2) stable"),
            "{why}"
        );
        assert!(
            why.contains("(GNU C Library (Test GLIBC 9.9-1) stable"),
            "{why}"
        );
        assert!(check(root.path(), None).is_err());

        // The very glibc it linked: what glibc supports.
        std::fs::write(dir.join("libc.so.6"), banner("9.9-1")).expect("libc");
        assert_eq!(check(root.path(), linked), Ok(()));

        std::fs::write(dir.join("libc.so.6"), banner("9.9-2")).expect("libc");
        std::fs::write(root.path().join(NSSWITCH), "hosts: files dns\n").expect("nsswitch");
        assert_eq!(check(root.path(), linked), Ok(()));
    }
}
