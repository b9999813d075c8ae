"""Request class that applies the form-part limit to urlencoded bodies too."""

import io

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser


class BoundedFormDataParser(FormDataParser):
    """Werkzeug limits parts only for multipart bodies; count `&` before parsing."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        body = stream.read()
        if self.max_form_parts is not None and body.count(b"&") >= self.max_form_parts:
            raise RequestEntityTooLarge()
        return super()._parse_urlencoded(io.BytesIO(body), mimetype, content_length, options)


class PortalRequest(Request):
    form_data_parser_class = BoundedFormDataParser
