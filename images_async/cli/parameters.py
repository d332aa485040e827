"""How each Images API parameter is spelled as a command-line option, and which options
each command has.

Which parameters each call takes is the endpoint table's knowledge
(:mod:`images_async._endpoints`); this module adds only what the command line knows: an
option's flags, help, value type and choices (``IMAGE_OPTIONS``). The parser adds each
command's options from its ``*_PARAMETERS`` list, and the command passes on exactly those
values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from .._endpoints import ENDPOINTS, EndpointName


@attrs.frozen(kw_only=True)
class ImageOption:
    """One API parameter as a command-line option: ``output_format`` is
    ``--output-format``, and its value goes to the call under the parameter's name."""

    name: str
    """The API parameter, also the option's ``argparse`` destination."""
    help: str | None = None
    """The option's line in ``--help``."""
    type: Callable[[str], object] = str
    """Converts the option's text to the parameter's value."""
    choices: tuple[str, ...] | None = None
    """The only values allowed, when the API has a short fixed list."""
    short_flag: str | None = None
    """A one-letter spelling as well (``-n``)."""

    @property
    def flags(self) -> tuple[str, ...]:
        long_flag = "--" + self.name.replace("_", "-")
        return (long_flag,) if self.short_flag is None else (self.short_flag, long_flag)


#: Every parameter that is an option, in ``--help`` order. The prompt, the files and
#: ``--stream`` are laid out by each command instead.
IMAGE_OPTIONS: Mapping[str, ImageOption] = {
    option.name: option
    for option in (
        ImageOption(name="input_fidelity", help="high or low (GPT image models)"),
        ImageOption(name="model", help="e.g. gpt-image-1, gpt-image-1.5, dall-e-2"),
        ImageOption(name="n", type=int, short_flag="-n", help="images per request (1-10)"),
        ImageOption(name="size", help="auto or WIDTHxHEIGHT"),
        ImageOption(name="response_format", choices=("url", "b64_json")),
        ImageOption(name="user", help="an end-user id for abuse monitoring"),
        ImageOption(name="quality", help="auto, low, medium, high (GPT); standard, hd (dall-e)"),
        ImageOption(name="background", help="transparent, opaque or auto"),
        ImageOption(name="output_format", help="png, jpeg or webp"),
        ImageOption(name="output_compression", type=int, help="0-100 for jpeg/webp"),
        ImageOption(name="partial_images", type=int, help="0-3 partial images when streaming"),
        ImageOption(name="style", help="vivid or natural (dall-e-3)"),
        ImageOption(name="moderation", help="low or auto (GPT image models)"),
    )
}


def options_of(endpoint: EndpointName) -> tuple[str, ...]:
    """The options, in ``--help`` order, of the command that makes ``endpoint``'s call: the
    parameters the endpoint table gives it that are spelled as an option."""
    taken = ENDPOINTS[endpoint].parameter_names
    return tuple(name for name in IMAGE_OPTIONS if name in taken)


GENERATE_PARAMETERS = options_of("generate")
EDIT_PARAMETERS = options_of("edit")
VARIATION_PARAMETERS = options_of("variation")
