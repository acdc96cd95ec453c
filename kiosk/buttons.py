"""The one hardware seam: the kiosk's Buttons and LEDs, built from config on a pin factory.

Tests and `--simulate` pass gpiozero's MockFactory and press the real Button objects
(`button.pin.drive_low()`, then `drive_high()`); on a Pi the default is lgpio.
"""

import importlib
import os
from importlib.metadata import entry_points

from gpiozero import LED, Button
from gpiozero.pins.mock import MockFactory

from kiosk.config import MOODS

# Tried in order on real hardware; never gpiozero's native or mock fallbacks, so a kiosk
# that cannot reach its pins says so instead of pretending (docs/decisions.md, "Kiosk").
HARDWARE_FACTORIES = (("lgpio", "gpiozero.pins.lgpio", "LGPIOFactory"),
                      ("rpigpio", "gpiozero.pins.rpigpio", "RPiGPIOFactory"))


class NoGPIO(Exception):
    """No pin library can reach GPIO pins here; str() is the one line to show (`reason`,
    then what to do off a Pi)."""

    def __init__(self, reason, hint=None):
        super().__init__(f"{reason}; {hint}" if hint else reason)
        self.reason = reason


def default_pin_factory(environ=os.environ):
    """gpiozero's factory for this machine: $GPIOZERO_PIN_FACTORY if set, else lgpio (or
    RPi.GPIO). Raises NoGPIO off a Pi instead of falling back to mock pins."""
    name = environ.get("GPIOZERO_PIN_FACTORY", "").strip()
    if name.lower() == "mock":
        return MockFactory()
    if name:
        return _named_factory(name)
    reasons = []
    for label, module, cls in HARDWARE_FACTORIES:
        try:
            return getattr(importlib.import_module(module), cls)()
        except Exception as e:  # any failure to load a pin library means: not this one
            reasons.append(f"{label}: {e}")
    raise NoGPIO("no GPIO pins found (" + "; ".join(reasons) + ")",
                 "off a Raspberry Pi use --simulate RATE or GPIOZERO_PIN_FACTORY=mock")


def _named_factory(name):
    """The pin factory gpiozero registers as *name* (its entry points, as gpiozero looks them
    up), or NoGPIO: a factory that cannot load here (no lgpio, not a Pi) is one line, too."""
    group = entry_points(group="gpiozero_pin_factories")
    found = [ep for wanted in (name, name.lower()) for ep in group if ep.name == wanted]
    if not found:
        known = ", ".join(sorted({ep.name for ep in group}))
        raise NoGPIO(f"GPIOZERO_PIN_FACTORY={name}: no such pin factory (known: {known})")
    try:
        return found[0].load()()
    except Exception as e:  # ImportError, PinUnknownPi, no /dev/gpiochip…: all mean no pins
        raise NoGPIO(f"GPIOZERO_PIN_FACTORY={name}: cannot use it here: "
                     f"{type(e).__name__}: {e}") from None


class Hardware:
    """The four Buttons (pull-up, wired to ground) and the optional LEDs.

    *on_press(mood)* (and *on_release(mood)*, if given) is called on the pin library's thread
    with the mood value 1-4; it must only stamp the edge and queue it. A held button fires
    once: gpiozero calls `when_pressed` on the falling edge only.
    """

    def __init__(self, config, pin_factory, on_press, on_release=None):
        self.pin_factory = pin_factory
        self.buttons, self.leds = {}, {}
        try:
            for value, mood in enumerate(MOODS, start=1):
                button = Button(config.buttons[mood], pull_up=True, pin_factory=pin_factory)
                button.when_pressed = _caller(on_press, value)
                if on_release is not None:
                    button.when_released = _caller(on_release, value)
                self.buttons[mood] = button
            for name, pin in config.leds.items():
                self.leds[name] = LED(pin, pin_factory=pin_factory)
        except Exception:
            self.close()
            raise

    def led_for(self, mood):
        """The LED that thanks for a press of *mood* (1-4): the thanks LED or the mood's own."""
        return self.leds.get("thanks") or self.leds.get(MOODS[mood - 1])

    def thank(self, mood, seconds):
        """Light the press's LED for *seconds* (in gpiozero's background thread)."""
        led = self.led_for(mood)
        if led is not None:
            led.blink(on_time=seconds, off_time=0, n=1, background=True)

    def close_buttons(self):
        """No press can arrive after this (the LEDs stay usable)."""
        for button in self.buttons.values():
            button.close()

    def close(self):
        for device in [*self.buttons.values(), *self.leds.values()]:
            device.close()


def _caller(on_press, value):
    def pressed():
        on_press(value)
    return pressed
