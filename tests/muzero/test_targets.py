"""n-step targets: hand-computed cases (episode ends, truncation, data that ends) and a
property against a one-sample-at-a-time reference written straight from the rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.muzero import ReplayBuffer, plan_targets
from lobzero.muzero.targets import NO_BOOTSTRAP

GAMMA = 0.5


def lane(rewards, terminated=(), truncated=()):
    n = len(rewards)
    term = np.zeros((1, n), bool)
    trunc = np.zeros((1, n), bool)
    term[0, list(terminated)] = True
    trunc[0, list(truncated)] = True
    return {
        "rewards": np.asarray([rewards], np.float64),
        "actions": np.arange(n, dtype=np.int64)[None, :] % 3,
        "terminated": term,
        "truncated": trunc,
    }


def plan(data, t, last, k=2, n=2):
    positions = np.asarray(t, np.int64)
    return plan_targets(
        np.zeros(len(positions), np.int64),
        positions,
        **data,
        last=last,
        unroll_steps=k,
        td_steps=n,
        discount=GAMMA,
        num_actions=3,
        rng=np.random.default_rng(0),
    )


def values_of(p, boot_values):
    """z = reward_sum + discount·v(boot_pos), v from a table by position."""
    v = np.where(p.boot_pos == NO_BOOTSTRAP, 0.0, boot_values[np.maximum(p.boot_pos, 0)])
    return p.reward_sum + p.boot_discount * v


def test_episode_end_and_absorbing_states() -> None:
    # episode A is positions 0..3 (terminal after 3); B starts at 4 and is still running
    data = lane([1, 2, 3, 4, 5, 6], terminated=[3])
    v = np.array([10.0, 20, 30, 40, 50, 60])
    p = plan(data, [1, 3, 4], last=5)
    z = values_of(p, v)
    # t=1: r1 + γ r2 + γ² v3 = 2 + 1.5 + 10; then r2 + γ r3 (terminal) = 3 + 2; then r3 = 4
    np.testing.assert_allclose(z[0], [13.5, 5.0, 4.0])
    np.testing.assert_array_equal(p.value_mask[0], [1, 1, 1])
    np.testing.assert_array_equal(p.reward_target[0], [0, 2, 3])
    np.testing.assert_array_equal(p.reward_mask[0], [0, 1, 1])
    np.testing.assert_array_equal(p.policy_pos[0], [1, 2, 3])
    np.testing.assert_array_equal(p.actions[0], [1, 2])
    # t=3: r3 = 4, then absorbing: value 0 and reward 0, both known; no policy target
    np.testing.assert_allclose(z[1], [4.0, 0.0, 0.0])
    np.testing.assert_array_equal(p.value_mask[1], [1, 1, 1])
    np.testing.assert_array_equal(p.reward_target[1], [0, 4, 0])
    np.testing.assert_array_equal(p.reward_mask[1], [0, 1, 1])
    np.testing.assert_array_equal(p.policy_pos[1], [3, NO_BOOTSTRAP, NO_BOOTSTRAP])
    # t=4: the data ends at 5 → r4 + γ v5 = 5 + 30; at 5 nothing follows: unknown; 6 unknown
    np.testing.assert_allclose(z[2][0], 35.0)
    np.testing.assert_array_equal(p.value_mask[2], [1, 0, 0])
    np.testing.assert_array_equal(p.reward_target[2], [0, 5, 6])
    np.testing.assert_array_equal(p.reward_mask[2], [0, 1, 1])
    np.testing.assert_array_equal(p.policy_pos[2], [4, 5, NO_BOOTSTRAP])


def test_truncation_bootstraps_from_the_final_observation() -> None:
    # truncated after position 1: z_0 = r0 + γ r1 + γ² v(final obs of 1); past it, unknown
    data = lane([1, 2, 3, 4], truncated=[1])
    p = plan(data, [0], last=3, k=2, n=3)
    assert p.boot_final[0, 0] and p.boot_pos[0, 0] == 1
    np.testing.assert_allclose(p.reward_sum[0, 0], 1 + 0.5 * 2)
    np.testing.assert_allclose(p.boot_discount[0, 0], 0.25)
    np.testing.assert_array_equal(p.value_mask[0], [1, 1, 0])
    np.testing.assert_array_equal(p.reward_mask[0], [0, 1, 1])
    np.testing.assert_array_equal(p.policy_pos[0], [0, 1, NO_BOOTSTRAP])


def test_buffer_uses_root_final_and_target_values() -> None:
    buffer = ReplayBuffer(8, 1, obs_dim=1, num_actions=2, prioritized=False)
    for i in range(4):
        buffer.add(
            obs=np.array([[float(i)]]),
            actions=np.array([0]),
            rewards=np.array([1.0]),
            root_values=np.array([10.0 * (i + 1)]),
            policies=np.array([[0.25, 0.75]]),
            terminated=np.array([False]),
            truncated=np.array([i == 1]),
            final_obs=np.array([[100.0]]),
            final_values=np.array([7.0]),
        )
    rng = np.random.default_rng(0)
    kw = {"unroll_steps": 1, "td_steps": 5, "discount": GAMMA, "beta": 1.0}
    b = buffer.sample(64, rng=rng, **kw)
    at0 = b.positions == 0
    # from 0: r0 + γ r1 + γ² · final value 7 (root values stored at play time)
    np.testing.assert_allclose(b.value_target[at0, 0], 1 + 0.5 + 0.25 * 7)
    # with a target network: its value of the final observation (here: the obs itself)
    b = buffer.sample(64, rng=rng, value_fn=lambda obs: obs[:, 0] * 2, **kw)
    at0 = b.positions == 0
    np.testing.assert_allclose(b.value_target[at0, 0], 1 + 0.5 + 0.25 * 200)
    np.testing.assert_allclose(b.policy_target[at0, 0], [[0.25, 0.75]] * int(at0.sum()))


def reference_value(rew, term, trunc, v, vfinal, last, u, n, g):
    """(z, known) for one position u by the rules of lobzero.muzero.targets."""
    total, disc = 0.0, 1.0
    for i in range(n + 1):
        p = u + i
        if i == n or p > last:
            if p > last:
                if i <= 1:
                    return 0.0, False
                total -= disc / g * rew[p - 1]
                disc /= g
                return total + disc * v[p - 1], True
            return total + disc * v[p], True
        total += disc * rew[p]
        disc *= g
        if term[p]:
            return total, True
        if trunc[p]:
            return total + disc * vfinal[p], True
    raise AssertionError("unreachable")


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=3, max_value=30).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(-3, 3), min_size=n, max_size=n),
            st.lists(st.sampled_from([0, 0, 0, 0, 1, 2]), min_size=n, max_size=n),
            st.integers(0, n - 1),
            st.integers(1, 4),
            st.integers(1, 6),
        )
    )
)
def test_value_targets_match_the_reference(case) -> None:
    rewards, ends, t, k, n = case
    length = len(rewards)
    data = lane(
        rewards,
        terminated=[i for i, e in enumerate(ends) if e == 1],
        truncated=[i for i, e in enumerate(ends) if e == 2],
    )
    v = np.arange(length, dtype=np.float64) * 10 + 1
    vfinal = -np.arange(length, dtype=np.float64) - 100
    p = plan(data, [t], last=length - 1, k=k, n=n)
    boot = np.where(
        p.boot_final[0], vfinal[np.maximum(p.boot_pos[0], 0)], v[np.maximum(p.boot_pos[0], 0)]
    )
    z = p.reward_sum[0] + p.boot_discount[0] * np.where(p.boot_pos[0] >= 0, boot, 0.0)
    inside, absorbed = True, False
    for j in range(k + 1):
        u = t + j
        if j > 0 and inside:
            if ends[u - 1] == 1:
                inside, absorbed = False, True
            elif ends[u - 1] == 2:
                inside = False
        inside = inside and u <= length - 1
        if inside:
            expected, known = reference_value(
                rewards,
                data["terminated"][0],
                data["truncated"][0],
                v,
                vfinal,
                length - 1,
                u,
                n,
                GAMMA,
            )
            assert p.value_mask[0, j] == float(known)
            if known:
                np.testing.assert_allclose(z[j], expected, rtol=1e-12)
        elif absorbed:
            assert p.value_mask[0, j] == 1.0 and z[j] == 0.0
        else:
            assert p.value_mask[0, j] == 0.0
        assert (p.policy_pos[0, j] != NO_BOOTSTRAP) == inside


def test_reanalyse_replaces_policies_and_bootstrap_values() -> None:
    buffer = ReplayBuffer(16, 1, obs_dim=1, num_actions=2, prioritized=False)
    for i in range(8):
        buffer.add(
            obs=np.array([[float(i)]]),
            actions=np.array([1]),
            rewards=np.array([1.0]),
            root_values=np.array([5.0]),
            policies=np.array([[0.5, 0.5]]),
            terminated=np.array([False]),
            truncated=np.array([False]),
        )

    def fresh_search(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.tile([[0.1, 0.9]], (len(obs), 1)), obs[:, 0] * 100.0

    kw = {"unroll_steps": 1, "td_steps": 2, "discount": GAMMA, "beta": 1.0}
    rng = np.random.default_rng(0)
    b = buffer.sample(40, rng=rng, search_fn=fresh_search, reanalyse_fraction=0.5, **kw)
    fresh, stale = slice(0, 20), slice(20, 40)
    known = b.policy_mask[:, 0] > 0
    np.testing.assert_allclose(
        b.policy_target[fresh][known[fresh], 0], [[0.1, 0.9]] * int(known[fresh].sum())
    )
    np.testing.assert_allclose(
        b.policy_target[stale][known[stale], 0], [[0.5, 0.5]] * int(known[stale].sum())
    )
    # from t with two rewards inside the data: 1 + 0.5 + 0.25·v(t + 2)
    inside = b.positions + 2 <= 7
    expected_fresh = 1.5 + 0.25 * (b.positions + 2) * 100.0
    np.testing.assert_allclose(
        b.value_target[fresh][inside[fresh], 0], expected_fresh[fresh][inside[fresh]]
    )
    np.testing.assert_allclose(b.value_target[stale][inside[stale], 0], 1.5 + 0.25 * 5.0)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=4, max_value=24).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(-3, 3), min_size=n, max_size=n),
            st.lists(st.sampled_from([0, 0, 0, 0, 1, 2]), min_size=n, max_size=n),
            st.lists(st.integers(0, n - 1), min_size=1, max_size=6),
            st.lists(st.integers(1, 6), min_size=6, max_size=6),
        )
    )
)
def test_a_horizon_per_sample_is_each_sample_with_its_own_horizon(case) -> None:
    """Off-policy correction plans every sample with its own n: the batch must equal each
    sample planned alone with that n (a planted defect, e.g. closing every horizon at the
    largest n, fails here)."""
    rewards, ends, starts, horizons = case
    data = lane(
        rewards,
        terminated=[i for i, e in enumerate(ends) if e == 1],
        truncated=[i for i, e in enumerate(ends) if e == 2],
    )
    n = np.asarray(horizons[: len(starts)], np.int64)
    batch = plan(data, starts, last=len(rewards) - 1, k=2, n=n)
    for b, (t, h) in enumerate(zip(starts, n, strict=True)):
        alone = plan(data, [t], last=len(rewards) - 1, k=2, n=int(h))
        for name in ("reward_sum", "boot_pos", "boot_final", "boot_discount", "value_mask"):
            np.testing.assert_array_equal(getattr(batch, name)[b], getattr(alone, name)[0])


def test_older_samples_bootstrap_sooner() -> None:
    """With ``td_age_steps`` 4, a sample played a steps ago bootstraps after
    max(1, 5 - a // 4) steps: rewards are 0 and the stored root value of position p is
    1000 + p, so z = γ^h · (1000 + t + h) tells h."""
    buffer = ReplayBuffer(64, 1, obs_dim=1, num_actions=2, prioritized=False)
    for i in range(40):
        buffer.add(
            np.array([[float(i)]]),
            np.array([0]),
            np.array([0.0]),
            np.array([1000.0 + i]),
            np.array([[0.5, 0.5]]),
            np.array([False]),
            np.array([False]),
        )
    kw = {"unroll_steps": 1, "td_steps": 5, "discount": GAMMA, "beta": 1.0}
    b = buffer.sample(256, rng=np.random.default_rng(0), td_age_steps=4.0, **kw)
    h = np.clip(5 - (39 - b.positions) // 4, 1, 5)
    inside = b.positions + h <= 39
    expected = GAMMA**h * (1000.0 + b.positions + h)
    np.testing.assert_allclose(b.value_target[inside, 0], expected[inside], rtol=1e-6)
    assert len(set(h[inside].tolist())) >= 3
    plain = buffer.sample(256, rng=np.random.default_rng(0), **kw)
    full = plain.positions + 5 <= 39
    np.testing.assert_allclose(
        plain.value_target[full, 0], GAMMA**5 * (1000.0 + plain.positions[full] + 5), rtol=1e-6
    )
