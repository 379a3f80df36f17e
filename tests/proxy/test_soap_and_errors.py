import xml.etree.ElementTree as ET

import requests

from apis.models import Api

SOAP11 = "{http://schemas.xmlsoap.org/soap/envelope/}"
SOAP12 = "{http://www.w3.org/2003/05/soap-envelope}"


def make_soap(published) -> None:
    Api.objects.filter(pk=published.api.pk).update(kind="SOAP")
    published.api.refresh_from_db()
    published.api.save()
    published.gateway_wait_for_reload()


def test_a_soap_11_call_without_token_gets_a_soap_fault(published):
    make_soap(published)
    response = requests.post(
        published.url + "/pets",
        data=b"<Envelope/>",
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "add"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("text/xml")
    fault = ET.fromstring(response.content).find(f"{SOAP11}Body/{SOAP11}Fault")
    assert fault.findtext("faultcode") == "soap:Client"
    assert "bearer token" in fault.findtext("faultstring")
    assert fault.findtext("detail/gatewayError/code") == "missing_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="gatekeep"'


def test_a_soap_12_call_gets_a_soap_12_fault(published):
    make_soap(published)
    response = requests.post(
        published.url + "/pets",
        data=b"<Envelope/>",
        headers={"Content-Type": "application/soap+xml", "Authorization": "Bearer x.y.z"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/soap+xml")
    root = ET.fromstring(response.content)
    code = root.findtext(f"{SOAP12}Body/{SOAP12}Fault/{SOAP12}Code/{SOAP12}Value")
    assert code == "soap:Sender"


def test_a_soap_api_still_proxies_valid_calls(published):
    make_soap(published)
    response = requests.post(
        published.url + "/pets",
        data=b"<Envelope/>",
        headers={"Content-Type": "text/xml", "Authorization": f"Bearer {published.token()}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert published.upstream.last["body"] == b"<Envelope/>"


def test_error_descriptions_cannot_break_out_of_the_challenge(published):
    response = published.get("/pets", published.token(iss='evil"\\issuer'))
    challenge = response.headers["WWW-Authenticate"]
    description = challenge.split('error_description="', 1)[1]
    assert description.count('"') == 1  # only the closing quote
    assert "\\" not in description
