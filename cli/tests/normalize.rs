//! `sfbkit normalize` as users run it, on the UK location profile fixture (shared/seeds/003).

use std::process::Command;

fn sfbkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sfbkit"))
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/location-profiles").join(name)
}

#[test]
fn json_rows_match_the_expected_table() {
    let expected: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixture("uk-seed003.expected.json")).unwrap()).unwrap();
    let inputs: Vec<&str> = expected.iter().map(|r| r["input"].as_str().unwrap()).collect();
    let out = sfbkit()
        .args(["normalize", "--json", "--profile"])
        .arg(fixture("uk-seed003.xml"))
        .args(&inputs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("one JSON array");
    assert_eq!(rows.len(), expected.len());
    for (row, want) in rows.iter().zip(&expected) {
        assert_eq!(row["input"], want["input"]);
        assert_eq!(row["output"], want["output"], "{row}");
        assert_eq!(row["rule"]["index"].as_u64(), want["rule"].as_u64(), "{row}");
        if want["rule"].is_null() {
            assert!(row["rule"].is_null() && row["output"].is_null(), "no rule: output and rule are null: {row}");
        } else {
            assert!(row["rule"]["pattern"].is_string());
        }
    }
}

#[test]
fn human_output_names_the_rule() {
    let out = sfbkit()
        .args(["normalize", "--profile"])
        .arg(fixture("uk-seed003.xml"))
        .args(["01785 123456", "999", "12345"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r"01785 123456 -> +441785123456 (rule 2: ^0([1-9])(\d*)$)",
            r"999 -> +999 (rule 4: ^(999$|112$|123$|101$))",
            "12345 -> no rule matches",
        ]
    );
}

#[test]
fn refused_profile_exits_2_naming_the_rule() {
    let dir = std::env::temp_dir().join(format!("sfbkit-normalize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.xml");
    let uk = std::fs::read_to_string(fixture("uk-seed003.xml")).unwrap();
    std::fs::write(&path, uk.replace(r"^0([1-9])(\d*)$", r"^0([1-9-[5]])(\d*)$")).unwrap();
    let out = sfbkit().args(["normalize", "--profile"]).arg(&path).arg("123456").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(r#"rule 2 pattern "^0([1-9-[5]])(\\d*)$" refused: character class subtraction"#), "{err}");

    let out = sfbkit().args(["normalize", "--profile"]).arg(dir.join("missing.xml")).arg("1").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot load the location profile"));
    let _ = std::fs::remove_dir_all(&dir);
}
