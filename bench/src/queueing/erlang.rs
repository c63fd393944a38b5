//! Closed forms for M/M/n/FCFS (Erlang C), used to validate the simulator
//! and as the exact bound for exponential service times (Kleinrock,
//! *Queueing Systems* vol. 1, §3.5). Times are in units of the mean
//! service time (μ = 1); `load` is ρ = λ/n.

use super::search::highest_load_meeting;

/// Probability that an arrival waits, C(n, a) with offered load a = n·ρ,
/// via the Erlang B recursion (stable for any n). 1 when ρ ≥ 1.
pub fn erlang_c(servers: usize, load: f64) -> f64 {
    if load >= 1.0 {
        return 1.0;
    }
    let offered = servers as f64 * load;
    let blocking = (1..=servers).fold(1.0, |b, k| offered * b / (k as f64 + offered * b));
    servers as f64 * blocking / (servers as f64 - offered * (1.0 - blocking))
}

/// Mean waiting time in queue, C / (n − a).
pub fn mean_wait(servers: usize, load: f64) -> f64 {
    if load >= 1.0 {
        return f64::INFINITY;
    }
    erlang_c(servers, load) / (servers as f64 * (1.0 - load))
}

/// P(sojourn > t): the sojourn is service (Exp(1)) plus, with probability
/// C, an Exp(θ) wait, θ = n(1 − ρ).
pub fn sojourn_tail(servers: usize, load: f64, t: f64) -> f64 {
    if load >= 1.0 {
        return 1.0;
    }
    let wait = erlang_c(servers, load);
    let theta = servers as f64 * (1.0 - load);
    let service = (-t).exp();
    let convolved = if (theta - 1.0).abs() < 1e-9 {
        (1.0 + t) * service
    } else {
        (theta * service - (-theta * t).exp()) / (theta - 1.0)
    };
    (1.0 - wait) * service + wait * convolved
}

/// The highest load whose sojourn `percentile` stays within `slo` (in mean
/// service times), by bisection on the monotone tail; 0 when even a
/// nearly idle system misses it.
pub fn max_load_at_slo(servers: usize, percentile: f64, slo: f64) -> f64 {
    highest_load_meeting(
        |load| sojourn_tail(servers, load, slo) <= 1.0 - percentile,
        50,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_server_reduces_to_m_m_1() {
        // M/M/1: P(wait) = ρ, W = ρ/(1−ρ), sojourn ~ Exp(1−ρ).
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
        assert!((mean_wait(1, 0.5) - 1.0).abs() < 1e-12);
        assert!((sojourn_tail(1, 0.5, 3.0) - (-1.5f64).exp()).abs() < 1e-12);
        let exact = 1.0 - 100f64.ln() / 10.0;
        assert!((max_load_at_slo(1, 0.99, 10.0) - exact).abs() < 1e-9);
    }

    #[test]
    fn matches_a_tabulated_erlang_c_value() {
        // n = 2, a = 1: C = (1/2 * 2) / (1 + 1 + 1) = 1/3.
        assert!((erlang_c(2, 0.5) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn sixteen_servers_bound_matches_the_thesis() {
        // Thesis §6.3.1 gives 96.3% (a simulated figure) for centralised
        // FCFS, exponential, p99 <= 10 S; the closed form gives 96.77%.
        let bound = max_load_at_slo(16, 0.99, 10.0);
        assert!((bound - 0.9677).abs() < 1e-4, "{bound}");
        assert!((bound - 0.963).abs() < 0.006, "{bound}");
    }
}
