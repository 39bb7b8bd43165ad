# expect: is a list; expected a float64 numpy array
# intent: griffin_lim returns the history as a Python list instead of a float64 array
# ruff: noqa: B905, E741, SIM108  (the blind reviewer's file, kept as written)
"""Speech from first principles: the file you edit.

Read README.md first. All audio is float64 NumPy at SR = 16 000 samples per second, made by the
source-filter synthesiser you write in task 1 (``synthesize_word`` at the bottom is written for
you on top of it). NumPy and SciPy only.
"""

from __future__ import annotations

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
    out = np.zeros(n_samples, dtype=np.float64)
    period = sr / f0
    k = 0
    while True:
        pos = round(k * period)
        if pos >= n_samples:
            break
        out[pos] = 1.0
        k += 1
    return out


def resonator(freq: float, bandwidth: float, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bandwidth / sr)
    theta = 2 * np.pi * freq / sr
    a = np.array([1.0, -2 * r * np.cos(theta), r**2], dtype=np.float64)
    b = np.array([a.sum()], dtype=np.float64)
    return b, a


def formant_filter(source, formants, bandwidths, sr: int = SR) -> np.ndarray:
    y = np.asarray(source, dtype=np.float64)
    for f, bw in zip(formants, bandwidths):
        b, a = resonator(f, bw, sr)
        y = scipy.signal.lfilter(b, a, y)
    return y


def synthesize_vowel(vowel: str, f0: float, duration: float, sr: int = SR) -> np.ndarray:
    n = round(duration * sr)
    src = glottal_source(f0, n, sr)
    return formant_filter(src, VOWELS[vowel], BANDWIDTHS, sr)


# ----- task 2: the front end ----------------------------------------------------------------------
def pre_emphasis(x: np.ndarray, coef: float = 0.97) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    y = x.copy()
    y[1:] = x[1:] - coef * x[:-1]
    return y


def frame_signal(x: np.ndarray, frame_length: int = 400, hop_length: int = 160) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n <= frame_length:
        n_frames = 1
    else:
        n_frames = 1 + int(np.ceil((n - frame_length) / hop_length))
    total = (n_frames - 1) * hop_length + frame_length
    padded = np.concatenate([x, np.zeros(total - n)])
    idx = np.arange(n_frames)[:, None] * hop_length + np.arange(frame_length)[None, :]
    return padded[idx]


def power_spectrum(frames: np.ndarray, n_fft: int = 512) -> np.ndarray:
    frames = np.asarray(frames, dtype=np.float64)
    win = scipy.signal.get_window("hann", frames.shape[1])
    return np.abs(np.fft.rfft(frames * win, n_fft, axis=-1)) ** 2


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int = 26, n_fft: int = 512, sr: int = SR, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    if fmax is None:
        fmax = sr / 2
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (freqs - lo) / (c - lo)
        falling = (hi - freqs) / (hi - c)
        fb[m] = np.maximum(0.0, np.minimum(rising, falling)) * 2.0 / (hi - lo)
    return fb


def log_mel(power: np.ndarray, filterbank: np.ndarray, floor: float = 1e-10) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power @ filterbank.T, floor))


def mfcc(log_mel_spec: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    return scipy.fft.dct(log_mel_spec, type=2, norm="ortho", axis=-1)[:, :n_mfcc]


def mfcc_features(x: np.ndarray, sr: int = SR, n_mels: int = 26, n_mfcc: int = 13) -> np.ndarray:
    y = pre_emphasis(x, 0.97)
    frames = frame_signal(y, int(0.025 * sr), int(0.010 * sr))
    p = power_spectrum(frames, 512)
    lm = log_mel(p, mel_filterbank(n_mels, 512, sr))
    return mfcc(lm, n_mfcc)


# ----- task 3: phase from magnitude (Griffin-Lim) ----------------------------------------------
NPERSEG, NOVERLAP = 512, 384  # the STFT of task 3: 32 ms windows every 8 ms


def spectral_convergence(target: np.ndarray, estimate: np.ndarray) -> float:
    return float(np.linalg.norm(target - estimate) / np.linalg.norm(target))


def griffin_lim(magnitude, n_iter, rng, sr: int = SR):
    angles = np.exp(2j * np.pi * rng.random(magnitude.shape))
    history = [0.0] * n_iter
    for it in range(n_iter):
        x = scipy.signal.istft(magnitude * angles, fs=sr, nperseg=NPERSEG, noverlap=NOVERLAP)[1]
        S = scipy.signal.stft(x, fs=sr, nperseg=NPERSEG, noverlap=NOVERLAP)[2]
        history[it] = spectral_convergence(magnitude, np.abs(S))
        angles = np.exp(1j * np.angle(S))
    x = scipy.signal.istft(magnitude * angles, fs=sr, nperseg=NPERSEG, noverlap=NOVERLAP)[1]
    return x, history


# ----- task 4: recognition by dynamic time warping ----------------------------------------------
def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    n, m = len(a), len(b)
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            D[i, j] = cost[i - 1, j - 1] + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])
    return float(D[n, m] / (n + m))


def recognize(features: np.ndarray, templates) -> str:
    best, best_d = None, np.inf
    for word, tpl in templates.items():
        d = dtw_distance(features[:, 1:], tpl[:, 1:])
        if d < best_d:
            best, best_d = word, d
    return best


# ----- task 5: word error rate ------------------------------------------------------------------
def align_words(reference: str, hypothesis: str) -> dict[str, int]:
    r, h = reference.split(), hypothesis.split()
    n, m = len(r), len(h)
    D = np.zeros((n + 1, m + 1), dtype=int)
    D[:, 0] = np.arange(n + 1)
    D[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = D[i - 1, j - 1] + (r[i - 1] != h[j - 1])
            D[i, j] = min(sub, D[i - 1, j] + 1, D[i, j - 1] + 1)
    i, j = n, m
    H = S = De = I = 0
    while i > 0 or j > 0:
        if i > 0 and j > 0 and D[i, j] == D[i - 1, j - 1] + (r[i - 1] != h[j - 1]):
            if r[i - 1] == h[j - 1]:
                H += 1
            else:
                S += 1
            i, j = i - 1, j - 1
        elif i > 0 and D[i, j] == D[i - 1, j] + 1:
            De += 1
            i -= 1
        else:
            I += 1
            j -= 1
    return {"hits": H, "substitutions": S, "deletions": De, "insertions": I}


def word_error_rate(reference: str, hypothesis: str) -> float:
    n = len(reference.split())
    if n == 0:
        raise ValueError("empty reference")
    c = align_words(reference, hypothesis)
    return (c["substitutions"] + c["deletions"] + c["insertions"]) / n


def corpus_wer(references, hypotheses) -> float:
    if len(references) != len(hypotheses):
        raise ValueError("length mismatch")
    errors = 0
    total = 0
    for r, h in zip(references, hypotheses):
        c = align_words(r, h)
        errors += c["substitutions"] + c["deletions"] + c["insertions"]
        total += len(r.split())
    if total == 0:
        raise ValueError("no reference words")
    return errors / total


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
