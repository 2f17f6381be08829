//! The key pool's rotation, cooldowns and blocks, and the signals read
//! from upstream answers.

use super::*;

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(ToString::to_string).collect()
}

#[test]
fn round_robin_skips_cooling_and_blocked_keys() {
    let pool = Pool::new(&keys(&["k1", "k2", "k3"]), Duration::from_secs(60));
    let picked: Vec<String> = (0..3)
        .map(|_| pool.pick("m", &[]).unwrap().key.unwrap())
        .collect();
    assert_eq!(picked, ["k1", "k2", "k3"]);
    let k1 = fingerprint(Some("k1"));
    let k2 = fingerprint(Some("k2"));
    pool.report(
        &k1,
        "m",
        &Outcome::RateLimited {
            retry_after: None,
            daily: false,
        },
        "slow down",
    );
    pool.report(
        &k2,
        "m",
        &Outcome::Rejected {
            reason: "401".into(),
        },
        "bad key",
    );
    for _ in 0..4 {
        assert_eq!(pool.pick("m", &[]).unwrap().key.as_deref(), Some("k3"));
    }
    // Cooling is per model: k1 still serves another model.
    let other: Vec<String> = (0..4)
        .map(|_| pool.pick("other", &[]).unwrap().key.unwrap())
        .collect();
    assert!(other.contains(&"k1".to_string()) && !other.contains(&"k2".to_string()));
    let views = pool.views();
    assert_eq!(views[0].state, "cooling");
    assert_eq!(views[0].cooling[0].model, "m");
    assert_eq!(views[1].state, "blocked");
    assert_eq!(views[2].state, "active");
    assert!(pool.enable(&k2));
    assert!(!pool.enable("nope"));
    assert_eq!(pool.summary().active, 2);
    // A refused request counts as an error but says nothing against the key.
    let refused = Outcome::Refused {
        label: "400".into(),
    };
    assert!(!refused.try_another_key());
    pool.report(&fingerprint(Some("k3")), "m", &refused, "bad request");
    let (errors, _) = pool.error_counts();
    assert_eq!(errors["400"], 1);
    assert_eq!(pool.views()[2].state, "active");
}

#[test]
fn nothing_usable_says_why() {
    let pool = Pool::new(&keys(&["k1", "k2"]), Duration::from_secs(60));
    let k1 = fingerprint(Some("k1"));
    let k2 = fingerprint(Some("k2"));
    let limited = Outcome::RateLimited {
        retry_after: Some(Duration::from_secs(7)),
        daily: false,
    };
    pool.report(&k1, "m", &limited, "");
    assert_eq!(
        pool.pick("m", std::slice::from_ref(&k2)).unwrap_err(),
        Unavailable::Tried
    );
    pool.report(&k2, "m", &limited, "");
    match pool.pick("m", &[]).unwrap_err() {
        Unavailable::Cooling { retry_after } => assert!(retry_after <= Duration::from_secs(7)),
        other => panic!("{other:?}"),
    }
    let rejected = Outcome::Rejected {
        reason: "403".into(),
    };
    pool.report(&k1, "m", &rejected, "");
    pool.report(&k2, "m", &rejected, "");
    assert_eq!(pool.pick("m", &[]).unwrap_err(), Unavailable::Blocked);
}

#[test]
fn a_daily_quota_rests_a_day() {
    let pool = Pool::new(&keys(&["k1"]), Duration::from_secs(60));
    let k1 = fingerprint(Some("k1"));
    pool.report(
        &k1,
        "m",
        &Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
            daily: true,
        },
        "quota",
    );
    let until = pool.views()[0].cooling[0].until;
    assert!(until - now_ms() > 23 * 3600 * 1000);
    assert!(is_daily_quota(
        "You exceeded your current quota (insufficient_quota)"
    ));
    assert!(is_daily_quota("Requests per day limit reached"));
    assert!(!is_daily_quota(
        "Rate limit reached for requests per minute"
    ));
}

#[test]
fn syncing_keeps_the_state_of_kept_keys() {
    let pool = Pool::new(&keys(&["k1", "k2"]), Duration::from_secs(60));
    let k1 = fingerprint(Some("k1"));
    pool.report(
        &k1,
        "m",
        &Outcome::Rejected {
            reason: "401".into(),
        },
        "",
    );
    pool.sync(&keys(&["k3", "k1"]));
    let views = pool.views();
    assert_eq!(views.len(), 2);
    assert_eq!(views[1].fingerprint, k1);
    assert_eq!(views[1].state, "blocked");
    // A block stays unwritten until it is marked written, and SQL without
    // its row lifts it only then (a sync that read SQL before the block
    // was written must not).
    let unwritten = pool.unpersisted_blocks();
    assert_eq!(unwritten.len(), 1);
    pool.apply_blocks(&HashMap::new());
    assert_eq!(pool.summary().blocked, 1);
    pool.mark_persisted(&unwritten[0].0, unwritten[0].1.since_ms);
    assert!(pool.unpersisted_blocks().is_empty());
    pool.apply_blocks(&HashMap::new());
    assert_eq!(pool.summary().blocked, 0);
    // No keys: one keyless slot.
    pool.sync(&[]);
    assert_eq!(pool.views()[0].fingerprint, "-");
    assert_eq!(pool.pick("m", &[]).unwrap().key, None);
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    let header = |v: &str| http::HeaderValue::from_str(v).unwrap();
    assert_eq!(
        retry_after(Some(&header("7"))),
        Some(Duration::from_secs(7))
    );
    assert_eq!(retry_after(Some(&header("soon"))), None);
    let later = time::OffsetDateTime::now_utc() + time::Duration::seconds(120);
    let date = later
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap();
    let secs = retry_after(Some(&header(&date))).unwrap().as_secs();
    assert!((100..=120).contains(&secs), "{secs}");
}
