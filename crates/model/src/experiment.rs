//! The arithmetic of `pktmap tune try`: rates measured in alternating baseline (A) and
//! changed (B) periods, compared with Welch's t interval, and a verdict. A counter that loses
//! packets improves when it falls.

use serde::Serialize;

/// What a change did to one series, over the periods measured.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Effect {
    /// A counter's name, or `stage rx.10` for a stage's drops per second.
    pub series: String,
    pub baseline_mean: f64,
    pub changed_mean: f64,
    /// 95% interval of changed minus baseline.
    pub low: f64,
    pub high: f64,
    pub verdict: Verdict,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improved,
    NoMeasurableEffect,
    Worse,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn variance(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

/// Student's t at 97.5% for `df` degrees of freedom (rounded down; the normal's 1.96 past 30).
fn t975(df: f64) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    let i = df.floor().max(1.0) as usize;
    T.get(i - 1).copied().unwrap_or(1.96)
}

/// Compares a loss series' rates in baseline and changed periods: Welch's interval for the
/// difference of the means; improved when it lies wholly below zero, worse wholly above.
/// With fewer than two periods of each, there is no interval and no effect is claimed.
pub fn compare(series: &str, baseline: &[f64], changed: &[f64]) -> Effect {
    let (ma, mb) = (mean(baseline), mean(changed));
    let (va, vb) = (variance(baseline), variance(changed));
    let (na, nb) = (baseline.len() as f64, changed.len() as f64);
    let se2 = va / na.max(1.0) + vb / nb.max(1.0);
    let diff = mb - ma;
    let (low, high) = if na < 2.0 || nb < 2.0 {
        (f64::NEG_INFINITY, f64::INFINITY)
    } else if se2 == 0.0 {
        // Every period gave the same figure on each side: the difference is exact.
        (diff, diff)
    } else {
        // Welch-Satterthwaite degrees of freedom.
        let df = se2.powi(2)
            / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0))
                .max(f64::MIN_POSITIVE);
        let half = t975(df) * se2.sqrt();
        (diff - half, diff + half)
    };
    let verdict = if high < 0.0 {
        Verdict::Improved
    } else if low > 0.0 {
        Verdict::Worse
    } else {
        Verdict::NoMeasurableEffect
    };
    Effect {
        series: series.to_string(),
        baseline_mean: ma,
        changed_mean: mb,
        low,
        high,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loss_that_falls_is_an_improvement_and_one_that_rises_is_worse() {
        let e = compare("x", &[900.0, 1000.0, 950.0], &[0.0, 3.0, 1.0]);
        assert_eq!(e.verdict, Verdict::Improved);
        assert!(e.high < 0.0 && e.low > -1100.0, "{e:?}");
        let e = compare("x", &[0.0, 3.0, 1.0], &[900.0, 1000.0, 950.0]);
        assert_eq!(e.verdict, Verdict::Worse);
    }

    #[test]
    fn noise_is_no_measurable_effect() {
        let e = compare("x", &[100.0, 300.0, 200.0], &[250.0, 150.0, 220.0]);
        assert_eq!(e.verdict, Verdict::NoMeasurableEffect);
        assert!(e.low < 0.0 && e.high > 0.0);
        // One period each: no interval, no claim.
        let e = compare("x", &[100.0], &[0.0]);
        assert_eq!(e.verdict, Verdict::NoMeasurableEffect);
    }

    #[test]
    fn identical_periods_give_an_exact_difference() {
        let e = compare("x", &[0.0, 0.0], &[0.0, 0.0]);
        assert_eq!(
            (e.low, e.high, e.verdict),
            (0.0, 0.0, Verdict::NoMeasurableEffect)
        );
        let e = compare("x", &[5.0, 5.0], &[0.0, 0.0]);
        assert_eq!(e.verdict, Verdict::Improved);
    }

    #[test]
    fn the_t_table_is_students() {
        assert_eq!(t975(1.0), 12.706);
        assert_eq!(t975(4.7), 2.776);
        assert_eq!(t975(100.0), 1.96);
    }
}
