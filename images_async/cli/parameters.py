"""Which Images API parameters each command takes, and how each is spelled as an option.

The one place in the command line that knows the API's parameters: the parser adds its
options from ``IMAGE_OPTIONS`` and the ``*_PARAMETERS`` lists, the commands pass on exactly
those values, and the batch maps its ``endpoint`` names to requests with
``BATCH_ENDPOINTS``. (A later step moves this knowledge into a table shared with the core.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from .. import EditRequest, GenerateRequest, VariationRequest


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


IMAGE_OPTIONS: Mapping[str, ImageOption] = {
    option.name: option
    for option in (
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
        ImageOption(name="input_fidelity", help="high or low (GPT image models)"),
    )
}

#: Parameters every endpoint takes.
COMMON_PARAMETERS = ("model", "n", "size", "response_format", "user")
#: Parameters of the GPT image models, taken by ``generate`` and ``edit``.
GPT_IMAGE_PARAMETERS = (
    "quality",
    "background",
    "output_format",
    "output_compression",
    "partial_images",
)
#: The options, in ``--help`` order, of each command; the prompt and the files come apart.
GENERATE_PARAMETERS = (*COMMON_PARAMETERS, *GPT_IMAGE_PARAMETERS, "style", "moderation")
EDIT_PARAMETERS = ("input_fidelity", *COMMON_PARAMETERS, *GPT_IMAGE_PARAMETERS)
VARIATION_PARAMETERS = COMMON_PARAMETERS

#: A batch line's ``endpoint`` and the request it builds. The short names are the ones
#: documented; the URL path's and the SDK method's names are accepted as well.
BATCH_ENDPOINTS: Mapping[str, type[GenerateRequest] | type[EditRequest] | type[VariationRequest]]
BATCH_ENDPOINTS = {
    "generate": GenerateRequest,
    "generations": GenerateRequest,
    "edit": EditRequest,
    "edits": EditRequest,
    "variation": VariationRequest,
    "variations": VariationRequest,
    "create_variation": VariationRequest,
}
