"""The soak verdict compares medians of the first and last thirds of the loops, so one
sample caught mid-garbage-collection neither hides growth nor fakes it."""

from bench.soak import Loop, broker_summary, verdict


def _loops(rss: list[float]) -> list[Loop]:
    return [Loop(number=i + 1, ended_s=20.0 * (i + 1), wall_s=20.0, records=172_198, rss_mib=value,
                 broker_mib=100.0, redis_mib=12.0) for i, value in enumerate(rss)]


def test_a_noisy_but_flat_run_is_flat_even_when_its_last_sample_is_a_spike() -> None:
    # loops 2–4 median 125, loops 9–11 median 133 (+6.4 %); loop 2 → loop 11 alone would be +47 %
    flat, sentence = verdict(_loops([95, 125, 130, 122, 131, 128, 125, 130, 122, 133, 184]))
    assert flat and "memory flat" in sentence and "(+6.4%)" in sentence, sentence


def test_steady_growth_is_caught() -> None:
    flat, sentence = verdict(_loops([95, 100, 105, 110, 115, 120, 125, 130, 135, 140]))
    assert not flat and sentence.startswith("memory grows")


def test_the_broker_summary_gives_start_min_median_max() -> None:
    loops = [Loop(number=i + 1, ended_s=20.0 * (i + 1), wall_s=20.0, records=172_198, rss_mib=100.0,
                  broker_mib=value, redis_mib=12.0) for i, value in enumerate([80.0, 77.5, 99.0, 120.25])]
    # sorted 77.5, 80, 99, 120.25: median (80 + 99) / 2 = 89.5
    assert broker_summary(loops) == ("broker RSS over 4 loops: start 80.0, min 77.5, median 89.5, max 120.2 MiB")
