"""Progress bars for the long work outside a training epoch (scoring, inversion, the extractor's
training, sampling): one owner for how they start.

tqdm's defaults otherwise (stderr, shown in logs too): only the delay is ours.
"""

from tqdm import tqdm

DELAY = 3.0  # seconds: work shorter than this shows no bar (the data's decoding waits as long)


def progress(iterable=None, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)`` that appears only once the work has run for DELAY seconds."""
    return tqdm(iterable, delay=DELAY, **kwargs)
