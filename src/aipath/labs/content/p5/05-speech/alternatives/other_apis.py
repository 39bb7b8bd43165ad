"""Alternative: other APIs (poles via np.poly, sosfilt, scipy.signal.freqz-free, einsum, recursion)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.fft
import scipy.signal

SR = 16_000  # samples per second, everywhere in this lab

# Formant frequencies (F1, F2, F3) in Hz of five vowels of an adult male voice, and the
# bandwidths the synthesiser uses for them.
VOWELS: dict[str, tuple[float, float, float]] = {
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (300.0, 870.0, 2240.0),
}
BANDWIDTHS = (80.0, 100.0, 120.0)


# ----- task 1: the source-filter synthesiser ------------------------------------------------------
def glottal_source(f0: float, n_samples: int, sr: int = SR) -> np.ndarray:
    out = np.zeros(n_samples)
    period = sr / f0
    k = np.arange(int(np.ceil(n_samples / period)) + 1)
    pulses = np.round(k * period).astype(np.int64)
    out[pulses[pulses < n_samples]] = 1.0
    return out


def resonator(freq: float, bandwidth: float, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    pole = np.exp(-np.pi * bandwidth / sr + 2j * np.pi * freq / sr)
    a = np.poly([pole, np.conj(pole)]).real
    return np.array([np.polyval(a[::-1], 1.0)]), a


def formant_filter(
    source: np.ndarray,
    formants: Sequence[float],
    bandwidths: Sequence[float],
    sr: int = SR,
) -> np.ndarray:
    sos = []
    for freq, bw in zip(formants, bandwidths, strict=True):
        b, a = resonator(freq, bw, sr)
        sos.append([b[0], 0.0, 0.0, *a])
    return scipy.signal.sosfilt(np.array(sos), np.asarray(source, dtype=float))


def synthesize_vowel(vowel: str, f0: float, duration: float, sr: int = SR) -> np.ndarray:
    n = round(duration * sr)
    return formant_filter(glottal_source(f0, n, sr), VOWELS[vowel], BANDWIDTHS, sr)


# ----- task 2: the front end ----------------------------------------------------------------------
def pre_emphasis(x: np.ndarray, coef: float = 0.97) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.concatenate([x[:1], x[1:] - coef * x[:-1]])


def frame_signal(x: np.ndarray, frame_length: int = 400, hop_length: int = 160) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    n_frames = max(1, -(-(len(x) - frame_length) // hop_length) + 1)
    padded = np.pad(x, (0, (n_frames - 1) * hop_length + frame_length - len(x)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame_length)
    return windows[::hop_length][:n_frames].copy()


def power_spectrum(frames: np.ndarray, n_fft: int = 512) -> np.ndarray:
    spec = scipy.fft.rfft(frames * scipy.signal.windows.hann(frames.shape[1], sym=False), n_fft)
    return (spec * spec.conj()).real


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=float) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=float) / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int = 26,
    n_fft: int = 512,
    sr: int = SR,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    fmax = sr / 2 if fmax is None else fmax
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.linspace(0.0, sr / 2, n_fft // 2 + 1)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - left) / (centre - left)
    falling = (right - freqs) / (right - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    return triangles * (2.0 / (right - left))


def log_mel(power: np.ndarray, filterbank: np.ndarray, floor: float = 1e-10) -> np.ndarray:
    energy = np.einsum("tk,mk->tm", power, filterbank)
    return 10.0 * np.log10(np.clip(energy, floor, None))


def mfcc(log_mel_spec: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    n = log_mel_spec.shape[1]
    k, i = np.meshgrid(np.arange(n_mfcc), np.arange(n), indexing="ij")
    basis = np.sqrt(2.0 / n) * np.cos(np.pi * k * (2 * i + 1) / (2 * n))
    basis[0] /= np.sqrt(2.0)
    return log_mel_spec @ basis.T


def mfcc_features(x: np.ndarray, sr: int = SR, n_mels: int = 26, n_mfcc: int = 13) -> np.ndarray:
    frames = frame_signal(pre_emphasis(x), int(0.025 * sr), int(0.010 * sr))
    power = power_spectrum(frames, 512)
    return mfcc(log_mel(power, mel_filterbank(n_mels, 512, sr)), n_mfcc)


# ----- task 3: phase from magnitude (Griffin-Lim) ----------------------------------------------
NPERSEG, NOVERLAP = 512, 384


def spectral_convergence(target: np.ndarray, estimate: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.abs(target - estimate) ** 2) / np.sum(np.abs(target) ** 2)))


def griffin_lim(
    magnitude: np.ndarray, n_iter: int, rng: np.random.Generator, sr: int = SR
) -> tuple[np.ndarray, np.ndarray]:
    opts = {"fs": sr, "nperseg": NPERSEG, "noverlap": NOVERLAP}
    spec = magnitude * np.exp(1j * rng.uniform(0.0, 2 * np.pi, magnitude.shape))
    history = np.zeros(n_iter)
    for it in range(n_iter):
        rebuilt = scipy.signal.stft(scipy.signal.istft(spec, **opts)[1], **opts)[2]
        history[it] = spectral_convergence(magnitude, np.abs(rebuilt))
        spec = magnitude * rebuilt / np.maximum(np.abs(rebuilt), 1e-300)
        spec[np.abs(rebuilt) == 0] = magnitude[np.abs(rebuilt) == 0]
    return scipy.signal.istft(spec, **opts)[1], history


# ----- task 4: recognition by dynamic time warping ----------------------------------------------
def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    import scipy.spatial.distance

    cost = scipy.spatial.distance.cdist(a, b)
    n, m = cost.shape
    acc = np.full((n, m), np.inf)
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                acc[i, j] = cost[0, 0]
                continue
            best = min(
                acc[i - 1, j - 1] if i and j else np.inf,
                acc[i - 1, j] if i else np.inf,
                acc[i, j - 1] if j else np.inf,
            )
            acc[i, j] = cost[i, j] + best
    return float(acc[-1, -1] / (n + m))


def recognize(features: np.ndarray, templates: Mapping[str, np.ndarray]) -> str:
    best, best_score = "", np.inf
    for word, template in templates.items():
        score = dtw_distance(features[:, 1:], template[:, 1:])
        if score < best_score:
            best, best_score = word, score
    return best


# ----- task 5: word error rate ------------------------------------------------------------------
def align_words(reference: str, hypothesis: str) -> dict[str, int]:
    import functools

    ref, hyp = reference.split(), hypothesis.split()

    @functools.cache
    def best(i: int, j: int) -> tuple[int, int, int, int, int]:
        """(edits, hits, substitutions, deletions, insertions) aligning ref[:i] with hyp[:j]."""
        if i == 0:
            return (j, 0, 0, 0, j)
        if j == 0:
            return (i, 0, 0, i, 0)
        options = []
        e, h, s, d, n = best(i - 1, j)
        options.append((e + 1, h, s, d + 1, n))
        e, h, s, d, n = best(i, j - 1)
        options.append((e + 1, h, s, d, n + 1))
        e, h, s, d, n = best(i - 1, j - 1)
        same = ref[i - 1] == hyp[j - 1]
        options.append((e + (not same), h + same, s + (not same), d, n))
        return min(options, key=lambda o: (o[0], -o[1]))  # the most hits among the best

    _, h, s, d, n = best(len(ref), len(hyp))
    return {"hits": h, "substitutions": s, "deletions": d, "insertions": n}


def word_error_rate(reference: str, hypothesis: str) -> float:
    n = len(reference.split())
    if n == 0:
        raise ValueError("the reference has no words: WER is undefined")
    c = align_words(reference, hypothesis)
    return (c["substitutions"] + c["deletions"] + c["insertions"]) / n


def corpus_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses differ in length")
    errors = words = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        c = align_words(ref, hyp)
        errors += c["substitutions"] + c["deletions"] + c["insertions"]
        words += len(ref.split())
    if words == 0:
        raise ValueError("the references have no words: WER is undefined")
    return errors / words


# ----- written for you: words to recognise ------------------------------------------------------
# phone: (kind, (F1, F2, F3), duration in ms). Voiced phones are excited by the glottal source,
# fricatives by white noise.
PHONES: dict[str, tuple[str, tuple[float, float, float], float]] = {
    **{v: ("voiced", f, 170.0) for v, f in VOWELS.items()},
    "m": ("nasal", (250.0, 1100.0, 2300.0), 90.0),
    "s": ("noise", (4800.0, 6500.0, 7400.0), 130.0),
    "sh": ("noise", (2400.0, 3500.0, 4600.0), 130.0),
}
PHONE_BANDWIDTHS = {
    "voiced": BANDWIDTHS,
    "nasal": (100.0, 200.0, 300.0),
    "noise": (600.0, 800.0, 1000.0),
}
PHONE_LEVEL = {"voiced": 0.1, "nasal": 0.03, "noise": 0.04}  # RMS of each kind of segment
WORDS: dict[str, tuple[str, ...]] = {
    "see": ("s", "i"),
    "sue": ("s", "u"),
    "she": ("sh", "i"),
    "shoe": ("sh", "u"),
    "ma": ("m", "a"),
    "me": ("m", "i"),
    "oh": ("o",),
    "eye": ("a", "i"),
}


def synthesize_word(
    word: str,
    rng: np.random.Generator,
    f0: float = 120.0,
    speed: float = 1.0,
    snr_db: float = 40.0,
    formant_scale: float = 1.0,
    gain: float = 1.0,
) -> np.ndarray:
    """One rendition of ``word`` (a key of WORDS) with 50 ms of silence either side.

    ``speed`` scales every duration, ``formant_scale`` every formant (another vocal tract);
    white noise is added at ``snr_db``. The checks build their own audio the same way.
    """
    parts = [np.zeros(int(0.05 * SR))]
    for phone in WORDS[word]:
        kind, formants, ms = PHONES[phone]
        n = round(ms * speed * SR / 1000)
        if kind == "noise":
            source = rng.standard_normal(n)
        else:
            source = glottal_source(f0 * rng.uniform(0.97, 1.03), n)
        y = formant_filter(source, [f * formant_scale for f in formants], PHONE_BANDWIDTHS[kind])
        y = y / np.sqrt(np.mean(y**2)) * PHONE_LEVEL[kind]
        ramp = min(int(0.015 * SR), n // 2)
        fade = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        y[:ramp] *= fade
        y[n - ramp :] *= fade[::-1]
        parts.append(y)
    parts.append(np.zeros(int(0.05 * SR)))
    x = np.concatenate(parts)
    noise = rng.standard_normal(len(x)) * np.sqrt(np.mean(x**2) / 10 ** (snr_db / 10))
    return (x + noise) * gain
