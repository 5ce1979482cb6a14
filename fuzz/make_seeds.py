#!/usr/bin/env python3
"""Writes the small seed inputs for the libFuzzer targets into fuzz/seeds/.

The seeds are short US TTY transmissions (1400/1800 Hz FSK, 5-bit Baudot, 2 stop bits) in
each WAV format that relaygw reads, raw sample streams for the demodulator target, and Baudot
code streams with both shift conventions. They are committed; rerun this script only to change
them. Standard library only.
"""
import math
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

LETTERS = {"E": 1, "\n": 2, "A": 3, " ": 4, "S": 5, "I": 6, "U": 7, "\r": 8, "D": 9, "R": 10,
           "J": 11, "N": 12, "F": 13, "C": 14, "K": 15, "T": 16, "Z": 17, "L": 18, "W": 19,
           "H": 20, "Y": 21, "P": 22, "Q": 23, "O": 24, "B": 25, "G": 26, "M": 28, "X": 29,
           "V": 30}
FIGURES = {"3": 1, "-": 3, "8": 6, "7": 7, "$": 9, "4": 10, "'": 11, ",": 12, "!": 13,
           ":": 14, "(": 15, "5": 16, '"': 17, ")": 18, "2": 19, "#": 20, "6": 21, "0": 22,
           "1": 23, "9": 24, "?": 25, "&": 26, ".": 28, "/": 29, ";": 30}
FIGS, LTRS, SPACE = 27, 31, 4


def encode(text, shift_after_space=True):
    """Baudot codes for `text`, with a shift first and, when shift_after_space is set, again after every space."""
    codes, shift = [], None
    for ch in text:
        if ch in (" ", "\r", "\n"):
            codes.append(LETTERS[ch])
            if shift_after_space:
                shift = None
            continue
        needed = "L" if ch in LETTERS else "F"
        if needed != shift:
            codes.append(LTRS if needed == "L" else FIGS)
            shift = needed
        codes.append(LETTERS[ch] if needed == "L" else FIGURES[ch])
    return codes


def modulate(codes, rate, baud=1000 / 22, lead_in_s=0.05, hang_s=0.05, amplitude=0.4):
    """Phase-continuous FSK samples in [-1, 1]: start bit, 5 data bits LSB first, 2 stop bits."""
    bits = [1] * int(lead_in_s * baud)
    for code in codes:
        bits += [0] + [(code >> i) & 1 for i in range(5)] + [1, 1]
    bits += [1] * int(hang_s * baud)
    samples, phase, clock = [], 0.0, 0.0
    for bit in bits:
        clock += rate / baud
        count = int(clock)
        clock -= count
        step = 2 * math.pi * (1400.0 if bit else 1800.0) / rate
        for _ in range(count):
            samples.append(amplitude * math.sin(phase))
            phase = (phase + step) % (2 * math.pi)
    return samples


def mulaw(x):
    sample = max(-32635, min(32635, int(x * 32767)))
    sign = 0x80 if sample < 0 else 0
    sample = abs(sample) + 0x84
    exponent = max(0, sample.bit_length() - 8)
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def alaw(x):
    sample = max(-32767, min(32767, int(x * 32767))) >> 3
    sign = 0x80 if sample >= 0 else 0
    sample = abs(sample)
    if sample < 32:
        code = sample >> 1
    else:
        exponent = sample.bit_length() - 5
        code = (exponent << 4) | ((sample >> exponent) & 0x0F)
    return (code | sign) ^ 0x55


def wav(fmt_tag, channels, rate, bits, payload, extensible=False):
    block = channels * bits // 8
    if extensible:
        guid = struct.pack("<IHH", fmt_tag, 0, 0x0010) + bytes.fromhex("800000aa00389b71")
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22,
                          bits, 0) + guid
    else:
        fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
        if fmt_tag != 1:
            fmt += struct.pack("<H", 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    if len(payload) % 2:
        body += b"\0"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm16(samples):
    return b"".join(struct.pack("<h", int(round(s * 32767))) for s in samples)


def write(folder, name, data):
    os.makedirs(os.path.join(ROOT, folder), exist_ok=True)
    with open(os.path.join(ROOT, folder, name), "wb") as f:
        f.write(data)


def main():
    tone8k = modulate(encode("GA"), 8000)
    write("wav_reader", "pcm16_8k_mono.wav", wav(1, 1, 8000, 16, pcm16(tone8k)))
    write("wav_reader", "pcm16_8k_extensible.wav", wav(1, 1, 8000, 16, pcm16(tone8k), True))
    write("wav_reader", "ulaw_8k.wav", wav(7, 1, 8000, 8, bytes(mulaw(s) for s in tone8k)))
    write("wav_reader", "alaw_8k.wav", wav(6, 1, 8000, 8, bytes(alaw(s) for s in tone8k)))
    write("wav_reader", "float32_8k.wav",
          wav(3, 1, 8000, 32, b"".join(struct.pack("<f", s) for s in tone8k)))
    stereo = b"".join(bytes([int(128 + 127 * s)] * 2) for s in modulate(encode("QA"), 11025))
    write("wav_reader", "pcm8_11k_stereo.wav", wav(1, 2, 11025, 8, stereo))

    write("fsk_demodulator", "rate8k_auto_45.raw", bytes([0, 0, 7]) + pcm16(tone8k))
    tone50 = modulate(encode("5 GA"), 16000, baud=50.0)
    write("fsk_demodulator", "rate16k_50.raw", bytes([2, 2, 99]) + pcm16(tone50))

    write("baudot_decoder", "letters.bin", bytes(encode("HELLO GA\r\n")))
    write("baudot_decoder", "figures_keep.bin", bytes(encode("555 0142 GA", False)))
    write("baudot_decoder", "figures_explicit.bin", bytes(encode("CALL 555-0142? SK")))


if __name__ == "__main__":
    main()
