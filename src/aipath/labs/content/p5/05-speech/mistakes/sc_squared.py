# expect: squared norms
"""Mistake: sc squared."""

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
    r = np.exp(-np.pi * bandwidth / sr)
    theta = 2.0 * np.pi * freq / sr
    a = np.array([1.0, -2.0 * r * np.cos(theta), r * r])
    b = np.array([a.sum()])
    return b, a


def formant_filter(
    source: np.ndarray,
    formants: Sequence[float],
    bandwidths: Sequence[float],
    sr: int = SR,
) -> np.ndarray:
    y = np.asarray(source, dtype=float)
    for freq, bw in zip(formants, bandwidths, strict=True):
        b, a = resonator(freq, bw, sr)
        y = scipy.signal.lfilter(b, a, y)
    return y


def synthesize_vowel(vowel: str, f0: float, duration: float, sr: int = SR) -> np.ndarray:
    n = round(duration * sr)
    return formant_filter(glottal_source(f0, n, sr), VOWELS[vowel], BANDWIDTHS, sr)


# ----- task 2: the front end ----------------------------------------------------------------------
def pre_emphasis(x: np.ndarray, coef: float = 0.97) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.concatenate([x[:1], x[1:] - coef * x[:-1]])


def frame_signal(x: np.ndarray, frame_length: int = 400, hop_length: int = 160) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if len(x) <= frame_length:
        n_frames = 1
    else:
        n_frames = 1 + int(np.ceil((len(x) - frame_length) / hop_length))
    total = (n_frames - 1) * hop_length + frame_length
    padded = np.concatenate([x, np.zeros(total - len(x))])
    idx = np.arange(frame_length)[None, :] + hop_length * np.arange(n_frames)[:, None]
    return padded[idx]


def power_spectrum(frames: np.ndarray, n_fft: int = 512) -> np.ndarray:
    window = scipy.signal.get_window("hann", frames.shape[1])
    spectrum = np.fft.rfft(frames * window, n=n_fft, axis=1)
    return np.abs(spectrum) ** 2


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
    return 10.0 * np.log10(np.maximum(power @ filterbank.T, floor))


def mfcc(log_mel_spec: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    return scipy.fft.dct(log_mel_spec, type=2, norm="ortho", axis=-1)[:, :n_mfcc]


def mfcc_features(x: np.ndarray, sr: int = SR, n_mels: int = 26, n_mfcc: int = 13) -> np.ndarray:
    frames = frame_signal(pre_emphasis(x), int(0.025 * sr), int(0.010 * sr))
    power = power_spectrum(frames, 512)
    return mfcc(log_mel(power, mel_filterbank(n_mels, 512, sr)), n_mfcc)


# ----- task 3: phase from magnitude (Griffin-Lim) ----------------------------------------------
NPERSEG, NOVERLAP = 512, 384


def spectral_convergence(target: np.ndarray, estimate: np.ndarray) -> float:
    return float(np.sum((target - estimate) ** 2) / np.sum(target**2))


def griffin_lim(
    magnitude: np.ndarray, n_iter: int, rng: np.random.Generator, sr: int = SR
) -> tuple[np.ndarray, np.ndarray]:
    angles = np.exp(2j * np.pi * rng.random(magnitude.shape))
    history = []
    for _ in range(n_iter):
        _, x = scipy.signal.istft(magnitude * angles, fs=sr, nperseg=NPERSEG, noverlap=NOVERLAP)
        _, _, spec = scipy.signal.stft(x, fs=sr, nperseg=NPERSEG, noverlap=NOVERLAP)
        history.append(spectral_convergence(magnitude, np.abs(spec)))
        angles = np.exp(1j * np.angle(spec))
    _, x = scipy.signal.istft(magnitude * angles, fs=sr, nperseg=NPERSEG, noverlap=NOVERLAP)
    return x, np.array(history)


# ----- task 4: recognition by dynamic time warping ----------------------------------------------
def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    n, m = len(a), len(b)
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            acc[i, j] = cost[i - 1, j - 1] + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    return float(acc[n, m] / (n + m))


def recognize(features: np.ndarray, templates: Mapping[str, np.ndarray]) -> str:
    best, best_score = "", np.inf
    for word, template in templates.items():
        score = dtw_distance(features[:, 1:], template[:, 1:])
        if score < best_score:
            best, best_score = word, score
    return best


# ----- task 5: word error rate ------------------------------------------------------------------
def align_words(reference: str, hypothesis: str) -> dict[str, int]:
    ref, hyp = reference.split(), hypothesis.split()
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), dtype=np.int64)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1])
            d[i, j] = min(sub, d[i - 1, j] + 1, d[i, j - 1] + 1)
    counts = {"hits": 0, "substitutions": 0, "deletions": 0, "insertions": 0}
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            counts["hits" if ref[i - 1] == hyp[j - 1] else "substitutions"] += 1
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            counts["deletions"] += 1
            i -= 1
        else:
            counts["insertions"] += 1
            j -= 1
    return counts


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
