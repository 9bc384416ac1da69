"""Images next to text: content parts checked by a real local chat server, and text-only engines."""

import base64
import logging

import pytest
from chat_server import ChatServer

import tg_core as tg
from tg_core import prompts
from tg_core.engines.local import LocalEngine
from tg_core.engines.openai_engine import OpenAIEngine
from tg_core.images import Image, sniff_mime

# A real 1x1 PNG (red pixel).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def parts_of(body):
    """(type, text or url) for every part of the last user message."""
    content = body["messages"][-1]["content"]
    assert isinstance(content, list), "expected content parts"
    return [(p["type"], p.get("text") or p["image_url"]["url"]) for p in content]


def image_urls(body):
    return [value for kind, value in parts_of(body) if kind == "image_url"]


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


def engine_for(server):
    return OpenAIEngine("vision-model", base_url=server.base_url, api_key="sk-test-images")


# ---------------------------------------------------------------- the image itself


def test_image_sources_and_mime_types(tmp_path):
    assert sniff_mime(PNG) == "image/png" and sniff_mime(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert Image.of(PNG).request_url() == PNG_URL
    assert Image.of("https://example.org/ant.jpg").request_url() == "https://example.org/ant.jpg"
    path = tmp_path / "red.png"
    path.write_bytes(PNG)
    assert Image.of(path).request_url() == PNG_URL
    assert Image.of(str(path)).path == str(path)


def test_bad_images_are_named(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        Image(data=PNG, url="https://x")
    with pytest.raises(ValueError, match="mime_type 'image/bmp'"):
        Image(data=PNG, mime_type="image/bmp")
    with pytest.raises(ValueError, match="not PNG, JPEG"):
        Image.of(b"plain bytes").request_url()
    missing = tmp_path / "missing.png"
    with pytest.raises(ValueError, match="missing.png"):
        Image.of(missing).request_url()


def test_variable_holds_an_image_without_reading_it(tmp_path):
    missing = tmp_path / "later.png"
    v = tg.Variable(image_path=str(missing), role_description="a picture", requires_grad=False)
    assert v.image.path == str(missing) and v.value == ""
    assert "later.png" in repr(v)
    w = tg.Variable(PNG, role_description="a picture", requires_grad=False)
    assert w.image.data == PNG and w.value == ""
    u = tg.Variable("caption", role_description="a picture", image="https://example.org/a.png")
    assert u.image.url == "https://example.org/a.png" and u.value == "caption"
    with pytest.raises(ValueError, match="give the image once"):
        tg.Variable(PNG, role_description="p", image_path="x.png")
    with pytest.raises(ValueError, match="mime_type given without an image"):
        tg.Variable("text", role_description="p", mime_type="image/png")


# ---------------------------------------------------------------- forward


def test_multimodal_call_sends_content_parts_in_order(server):
    server.reply = lambda body: "an ant" if image_urls(body) == [PNG_URL] else "no image seen"
    image = tg.Variable(PNG, role_description="image to answer a question about", requires_grad=False)
    question = tg.Variable("What do you see in this image?", role_description="question", requires_grad=False)
    response = tg.MultimodalLLMCall(engine_for(server))([image, question])
    assert response.value == "an ant"
    kinds = [kind for kind, _ in parts_of(server.requests[0])]
    assert kinds == ["image_url", "text"]
    assert parts_of(server.requests[0])[1][1].startswith("What do you see")
    assert response.requires_grad and image in response.predecessors


def test_url_images_are_passed_as_urls(server):
    server.reply = lambda body: ",".join(image_urls(body))
    image = tg.Variable(image_path="https://example.org/ant.jpg", role_description="photo", requires_grad=False)
    question = tg.Variable("Describe it", role_description="question", requires_grad=False)
    assert tg.MultimodalLLMCall(engine_for(server))([question, image]).value == "https://example.org/ant.jpg"


def test_the_embedded_text_model_is_refused_clearly():
    image = tg.Variable(PNG, role_description="photo", requires_grad=False)
    with pytest.raises(tg.EngineConfigError, match=r"reads text only \(the embedded local model"):
        tg.MultimodalLLMCall(LocalEngine("light"))([image])


def test_missing_image_file_fails_at_the_call_naming_it(server, tmp_path):
    image = tg.Variable(image_path=str(tmp_path / "gone.png"), role_description="photo", requires_grad=False)
    with pytest.raises(ValueError, match="gone.png"):
        tg.MultimodalLLMCall(engine_for(server))([image])
    assert server.requests == []


def test_ordered_fields_need_every_field(server):
    call = tg.autograd.OrderedFieldsMultimodalLLMCall(engine_for(server), fields=["Question", "Image"])
    with pytest.raises(KeyError, match="missing \\['Image'\\]"):
        call({"Question": tg.Variable("q", role_description="q")})


# ---------------------------------------------------------------- backward and TGD


def vision_reply(body):
    """A vision model: it answers by prompt type, and only with the image in front of it."""
    system = body["messages"][0]["content"]
    if PNG_URL not in image_urls(body):
        return "I cannot see any image"
    if system == prompts.OPTIMIZER_SYSTEM:
        return f"{prompts.IMPROVED_START} A red square. {prompts.IMPROVED_END}"
    if system == prompts.BACKWARD_SYSTEM:
        return "The image is a single red pixel; say so."
    if system == prompts.IMAGE_QA_SYSTEM:
        return "The answer misses the colour."
    return "An ant."


def test_image_qa_loss_backward_and_tgd_carry_the_image(server):
    server.reply = vision_reply
    engine = engine_for(server)
    tg.set_backward_engine(engine, override=True)
    image = tg.Variable(PNG, role_description="image to answer a question about", requires_grad=False)
    question = tg.Variable("What do you see?", role_description="question", requires_grad=False)
    response = tg.MultimodalLLMCall(engine)([image, question])
    assert response.value == "An ant."
    loss_fn = tg.ImageQALoss("Is this a complete and good answer for the image? Criticize.", engine=engine)
    loss = loss_fn(question=question, image=image, response=response)
    assert loss.value == "The answer misses the colour."
    texts = [text for kind, text in parts_of(server.requests[1]) if kind == "text"]
    assert texts[0].startswith("Evaluation Instruction: Is this") and "Answer: An ant." in texts[-1]
    optimizer = tg.TGD(parameters=[response])
    loss.backward()
    assert response.gradients[0].text == "The image is a single red pixel; say so."
    assert response.gradients[0].images == (image.image,)
    optimizer.step()
    assert response.value == "A red square."
    optimizer_request = server.requests[-1]
    assert optimizer_request["messages"][0]["content"] == prompts.OPTIMIZER_SYSTEM
    assert image_urls(optimizer_request) == [PNG_URL]


def test_a_text_only_backward_engine_is_told_an_image_was_there(server, caplog):
    server.reply = vision_reply
    image = tg.Variable(PNG, role_description="photo", requires_grad=False)
    question = tg.Variable("What is it?", role_description="question", requires_grad=False)
    response = tg.MultimodalLLMCall(engine_for(server))([image, question])
    loss = tg.ImageQALoss("Judge the answer", engine=engine_for(server))(image, question, response)
    seen = []

    def text_only(messages, **params):
        seen.append(messages)
        assert all(isinstance(m["content"], str) for m in messages)
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} better {prompts.IMPROVED_END}"
        return "feedback without seeing"

    text_engine = tg.FunctionEngine(text_only)
    with caplog.at_level(logging.WARNING, logger="tg_core.images"):
        loss.backward(text_engine)
        tg.TGD([response], engine=text_engine).step()
    note = prompts.IMAGE_NOT_SHOWN.format(model="function")
    assert len(seen) == 2 and note in seen[0][-1]["content"] and note in seen[1][-1]["content"]
    assert seen[1][0]["content"] == prompts.OPTIMIZER_SYSTEM
    assert response.value == "better"
    assert "reads text only" in caplog.text


def test_a_textgrad_multimodal_engine_gets_bytes_and_text():
    class Vision(tg.EngineLM):
        def __init__(self, is_multimodal):
            self.is_multimodal = is_multimodal
            self.model_string = "dummy-vision"

        def generate(self, content, system_prompt=None, **kwargs):
            if isinstance(content, list) and content[0] == PNG:
                return "Hello Text from Image"
            return "Hello Text"

    image = tg.Variable(PNG, role_description="image to answer a question about", requires_grad=False)
    question = tg.Variable("What do you see?", role_description="question", requires_grad=False)
    assert tg.MultimodalLLMCall(engine=Vision(True))([image, question]).value == "Hello Text from Image"
    assert tg.LLMCall(engine=Vision(True))(question).value == "Hello Text"
    with pytest.raises(tg.EngineConfigError, match="'dummy-vision' reads text only"):
        tg.MultimodalLLMCall(engine=Vision(False))([image, question])
