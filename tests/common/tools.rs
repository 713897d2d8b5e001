//! What a test needs from the machine (a tool such as `strace`, root for a tmpfs): one
//! rule for all of them. Under `CI=true` a missing need fails the test — CI must run every
//! test, and `.ci/run` installs the tools. Elsewhere the test prints a loud notice and
//! returns early, so a developer without the tool still gets a green run of the rest.

use std::process::{Command, Stdio};

/// Whether this run is CI's (`CI=true`, as CI services set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Whether `tool` runs (`tool probe`, e.g. `strace -V`, exits 0). If it does not: panics
/// under CI, else prints a notice naming `test` and returns `false` (the test then
/// returns early).
#[track_caller]
pub fn require_tool(test: &str, tool: &str, probe: &str) -> bool {
    let runs = Command::new(tool)
        .arg(probe)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require(
        test,
        if runs {
            Ok(())
        } else {
            Err(format!(
                "`{tool}` is not installed or not on PATH (`.ci/run` installs it)"
            ))
        },
    )
}

/// Whether `need` holds (`Err` says what is missing). If it does not: panics under CI,
/// else prints a notice naming `test` and returns `false`.
#[track_caller]
pub fn require(test: &str, need: Result<(), String>) -> bool {
    let Err(missing) = need else {
        return true;
    };
    assert!(
        !in_ci(),
        "{test} cannot run: {missing}. Under CI=true a missing tool is a failure, not a skip."
    );
    eprintln!(
        "\n!!!!!!!! SKIPPED {test}: {missing}.\n!!!!!!!! It passes here without testing \
         anything; CI (CI=true) fails instead.\n"
    );
    false
}
