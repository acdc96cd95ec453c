"""Presses without a visitor: `--simulate RATE` and `--keyboard`, both through the real
Button objects on mock pins (`pin.drive_low()` then `drive_high()`, as a finger would)."""

import contextlib
import os
import random
import select
import sys
import termios
import threading
import tty

from gpiozero.exc import GPIODeviceClosed

from kiosk.config import MOODS

MAX_RATE = 1200  # presses per minute: closer than the 50 ms debounce window is bounce


def press(button):
    """Press and release *button* on its mock pin."""
    button.pin.drive_low()
    button.pin.drive_high()


def simulate(buttons, rate, stop_event, rand=None):
    """Press random buttons at *rate* per minute until *stop_event* is set (0: none)."""
    if rate <= 0:
        return
    rand = rand or random.Random()
    interval = 60.0 / rate
    while not stop_event.wait(interval):
        with contextlib.suppress(AttributeError, GPIODeviceClosed):  # closed at shutdown
            press(buttons[rand.choice(MOODS)])


def start_simulation(buttons, rate, stop_event):
    thread = threading.Thread(target=simulate, args=(buttons, rate, stop_event),
                              name="kiosk-simulate", daemon=True)
    thread.start()
    return thread


def keyboard(buttons, stop_event, stream=None):
    """Keys 1-4 press the four buttons, q stops; the terminal is restored on exit."""
    stream = stream or sys.stdin
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    print("keys 1-4 press very_unhappy … very_happy; q quits", file=sys.stderr, flush=True)
    try:
        tty.setcbreak(fd)
        while not stop_event.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            key = os.read(fd, 1).decode(errors="replace")
            if key in ("q", ""):
                stop_event.set()
            elif key in "1234":
                press(buttons[MOODS[int(key) - 1]])
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def keyboard_thread(buttons, stop_event):
    thread = threading.Thread(target=keyboard, args=(buttons, stop_event),
                              name="kiosk-keyboard", daemon=True)
    thread.start()
    return thread
