"""Speech from first principles: the file you edit.

Read README.md first. All audio is float64 NumPy at SR = 16 000 samples per second, made by the
source-filter synthesiser you write in task 1 (``synthesize_word`` at the bottom is written for
you on top of it). NumPy and SciPy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.fft
import scipy.signal  # noqa: F401  (tasks 1 and 3 need it)

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
    """The voiced source: a train of unit impulses, one per glottal period.

    float64 of shape (n_samples,): 1.0 at the samples ``round(k * sr / f0)`` for k = 0, 1, 2, ...
    that are below ``n_samples``, 0.0 everywhere else.

    >>> glottal_source(4000.0, 10)
    array([1., 0., 0., 0., 1., 0., 0., 0., 1., 0.])
    """
    # TODO: the period in samples is sr / f0 (not an integer in general); round each pulse
    raise NotImplementedError


def resonator(freq: float, bandwidth: float, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """The digital resonator of one formant, as ``(b, a)`` for ``scipy.signal.lfilter``.

    Poles at radius ``r = exp(-pi * bandwidth / sr)`` and angle ``theta = 2 * pi * freq / sr``:
    ``a = [1, -2 r cos(theta), r**2]``, ``b = [1 - 2 r cos(theta) + r**2]`` (gain 1 at 0 Hz).
    Both float64 arrays, of shapes (1,) and (3,).

    >>> b, a = resonator(500.0, 80.0)
    >>> a.round(4)
    array([ 1.    , -1.931 ,  0.9691])
    """
    # TODO: r and theta, then the coefficients
    raise NotImplementedError


def formant_filter(
    source: np.ndarray,
    formants: Sequence[float],
    bandwidths: Sequence[float],
    sr: int = SR,
) -> np.ndarray:
    """Pass ``source`` through one resonator per formant, in cascade (F1 first, then F2, ...).

    float64 of the shape of ``source``; ``source`` itself is left unchanged.
    """
    # TODO: lfilter with each resonator in turn, the output of one feeding the next
    raise NotImplementedError


def synthesize_vowel(vowel: str, f0: float, duration: float, sr: int = SR) -> np.ndarray:
    """``round(duration * sr)`` samples of ``vowel`` (a key of VOWELS) at pitch ``f0``.

    The glottal source filtered by the vowel's three formants with BANDWIDTHS.
    """
    # TODO: glottal_source, then formant_filter
    raise NotImplementedError


# ----- task 2: the front end ----------------------------------------------------------------------
def pre_emphasis(x: np.ndarray, coef: float = 0.97) -> np.ndarray:
    """y[0] = x[0]; y[n] = x[n] - coef * x[n - 1]. Same shape as ``x``, float64.

    >>> pre_emphasis(np.array([1.0, 2.0, 3.0]), 0.5)
    array([1. , 1.5, 2. ])
    """
    # TODO
    raise NotImplementedError


def frame_signal(x: np.ndarray, frame_length: int = 400, hop_length: int = 160) -> np.ndarray:
    """Overlapping frames, shape (n_frames, frame_length); frame t is x[t*hop : t*hop + length].

    n_frames = 1 if len(x) <= frame_length, else 1 + ceil((len(x) - frame_length) / hop_length);
    the end is padded with zeros so that the last frame is complete (no padding at the start).

    >>> frame_signal(np.arange(7.0), frame_length=4, hop_length=2)
    array([[0., 1., 2., 3.],
           [2., 3., 4., 5.],
           [4., 5., 6., 0.]])
    """
    # TODO
    raise NotImplementedError


def power_spectrum(frames: np.ndarray, n_fft: int = 512) -> np.ndarray:
    """|rfft(frame * hann, n_fft)|**2 of each frame: shape (n_frames, n_fft // 2 + 1).

    The window is ``scipy.signal.get_window("hann", frame_length)`` (the periodic Hann window).
    """
    # TODO
    raise NotImplementedError


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """The HTK mel scale: 2595 * log10(1 + hz / 700). ``hz_to_mel(1000.0)`` is about 1000."""
    # TODO
    raise NotImplementedError


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """The inverse of ``hz_to_mel``."""
    # TODO
    raise NotImplementedError


def mel_filterbank(
    n_mels: int = 26,
    n_fft: int = 512,
    sr: int = SR,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Triangular mel filters, shape (n_mels, n_fft // 2 + 1); fmax=None means sr / 2.

    Filter m rises from edge m to edge m + 1 and falls to edge m + 2, where the n_mels + 2 edges
    are equally spaced in mel from fmin to fmax; it is evaluated at the bin frequencies
    ``np.linspace(0, sr / 2, n_fft // 2 + 1)`` and scaled by 2 / (edge[m + 2] - edge[m]) (Hz).
    """
    # TODO
    raise NotImplementedError


def log_mel(power: np.ndarray, filterbank: np.ndarray, floor: float = 1e-10) -> np.ndarray:
    """Mel energies in decibels: 10 * log10(max(power @ filterbank.T, floor)).

    power (n_frames, n_bins) and filterbank (n_mels, n_bins) give (n_frames, n_mels).
    """
    # TODO
    raise NotImplementedError


def mfcc(log_mel_spec: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    """The first n_mfcc coefficients of the orthonormal DCT-II of each frame's log-mel vector.

    (n_frames, n_mels) -> (n_frames, n_mfcc); use ``scipy.fft.dct``.
    """
    # TODO
    raise NotImplementedError


def mfcc_features(x: np.ndarray, sr: int = SR, n_mels: int = 26, n_mfcc: int = 13) -> np.ndarray:
    """The whole front end: pre-emphasis (0.97), 25 ms frames every 10 ms, the power spectrum
    with n_fft = 512, log-mel with ``mel_filterbank(n_mels, 512, sr)``, then ``mfcc``.

    Shape (n_frames, n_mfcc).
    """
    # TODO
    raise NotImplementedError


# ----- task 3: phase from magnitude (Griffin-Lim) ----------------------------------------------
NPERSEG, NOVERLAP = 512, 384  # the STFT of task 3: 32 ms windows every 8 ms


def spectral_convergence(target: np.ndarray, estimate: np.ndarray) -> float:
    """||target - estimate|| / ||target|| (Frobenius norms) of two magnitude spectrograms."""
    # TODO
    raise NotImplementedError


def griffin_lim(
    magnitude: np.ndarray, n_iter: int, rng: np.random.Generator, sr: int = SR
) -> tuple[np.ndarray, np.ndarray]:
    """A waveform whose STFT magnitude approaches ``magnitude`` (n_freqs, n_frames), and the
    spectral convergence after each iteration, float64 of shape (n_iter,).

    Start from ``np.exp(2j * np.pi * rng.random(magnitude.shape))``; each iteration inverts
    magnitude * phase with ``scipy.signal.istft``, re-analyses the waveform with
    ``scipy.signal.stft`` (fs=sr, nperseg=NPERSEG, noverlap=NOVERLAP for both), records the
    spectral convergence of its magnitude and keeps only its phase. The returned waveform is
    the inverse of magnitude * (the last phase).
    """
    # TODO
    raise NotImplementedError


# ----- task 4: recognition by dynamic time warping ----------------------------------------------
def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The DTW distance between two feature sequences a (n, d) and b (m, d).

    Local cost: the Euclidean distance between frames. The path runs from (0, 0) to
    (n - 1, m - 1) with steps (1, 0), (0, 1) and (1, 1), each adding the cost of the cell it
    enters. Returns the accumulated cost divided by n + m.

    >>> dtw_distance(np.array([[0.0], [1.0]]), np.array([[0.0], [1.0], [1.0]]))
    0.0
    """
    # TODO: a (n + 1, m + 1) table of inf with D[0, 0] = 0, filled row by row
    raise NotImplementedError


def recognize(features: np.ndarray, templates: Mapping[str, np.ndarray]) -> str:
    """The word of the template closest to ``features`` (MFCC, (n_frames, 13)) by DTW.

    Compare coefficients 1..12 only (drop column 0, the loudness); a tie goes to the first
    word of ``templates``.
    """
    # TODO
    raise NotImplementedError


# ----- task 5: word error rate ------------------------------------------------------------------
def align_words(reference: str, hypothesis: str) -> dict[str, int]:
    """Counts of an alignment of the words (``str.split()``) with the fewest edits.

    Returns {"hits": H, "substitutions": S, "deletions": D, "insertions": I}: a deletion is a
    reference word the hypothesis lacks, an insertion a hypothesis word the reference lacks.

    >>> align_words("the cat sat", "the bat sat down")
    {'hits': 2, 'substitutions': 1, 'deletions': 0, 'insertions': 1}
    """
    # TODO: the Levenshtein table over words, then a backtrace that counts
    raise NotImplementedError


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(S + D + I) / (number of reference words). ValueError if the reference has no words."""
    # TODO
    raise NotImplementedError


def corpus_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """The WER of a test set: all errors over all reference words (not a mean of per-utterance
    WERs). ValueError if the lists differ in length or the references have no words."""
    # TODO
    raise NotImplementedError


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
