"""An independent SOAP client for imms: zeep reads our WSDL at run time and calls the
service; faults are parsed by zeep. Prints one JSON object with what happened.

usage: zeep_client.py BASE_URL USER PASSWORD FACILITY VXU_FILE QBP_FILE
"""
import json
import sys

from lxml import etree
from zeep import Client
from zeep.exceptions import Fault

base, user, password, facility, vxu_path, qbp_path = sys.argv[1:7]
client = Client(base + "/hl7/soap?wsdl")
binding_name = "{urn:cdc:iisb:2011}client_Binding_Soap12"
address = base + "/hl7/soap"
service = client.create_service(binding_name, address)
binding = client.wsdl.bindings[binding_name]

vxu = open(vxu_path, encoding="utf-8").read()
qbp = open(qbp_path, encoding="utf-8").read()
out = {}


def fault(call):
    try:
        call()
        return None
    except Fault as f:
        detail = f.detail
        child = detail[0] if detail is not None and len(detail) else None
        return {
            "message": f.message,
            "code": f.code,
            "detail": etree.QName(child).localname if child is not None else None,
            "detail_code": child.findtext("{urn:cdc:iisb:2011}Code") if child is not None else None,
        }


def raw(operation, body, content_type="application/soap+xml; charset=utf-8"):
    """Posts bytes zeep did not build, and lets zeep read the answer as the operation's."""
    response = client.transport.post(address, body, {"Content-Type": content_type})
    return binding.process_reply(client, binding.get(operation), response)


ENV = ('<?xml version="1.0"?>{dtd}<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
       '<s:Body>{body}</s:Body></s:Envelope>')

out["wsdl_operations"] = sorted(binding.all().keys())
out["echo"] = service.connectivityTest(echoBack="ping")
out["vxu"] = service.submitSingleMessage(username=user, password=password, facilityID=facility, hl7Message=vxu)
out["vxu_again"] = service.submitSingleMessage(username=user, password=password, facilityID=facility, hl7Message=vxu)
out["qbp"] = service.submitSingleMessage(username=user, password=password, facilityID=facility, hl7Message=qbp)
out["security"] = fault(lambda: service.submitSingleMessage(
    username=user, password="wrong", facilityID=facility, hl7Message=vxu))
out["security_facility"] = fault(lambda: service.submitSingleMessage(
    username=user, password=password, facilityID="SOMEONE-ELSE", hl7Message=vxu))
out["too_large_message"] = fault(lambda: service.submitSingleMessage(
    username=user, password=password, facilityID=facility, hl7Message="MSH|" + "A" * (1100 * 1024)))
out["too_large_body"] = fault(lambda: service.submitSingleMessage(
    username=user, password=password, facilityID=facility, hl7Message="MSH|" + "A" * (3 * 1024 * 1024)))
out["unsupported"] = fault(lambda: raw("connectivityTest", ENV.format(
    dtd="", body='<submitBatch xmlns="urn:cdc:iisb:2011"><x>1</x></submitBatch>').encode()))
out["malformed"] = fault(lambda: raw("submitSingleMessage", b"<s:Envelope xmlns:s='x'><unclosed>"))
out["xxe"] = fault(lambda: raw("submitSingleMessage", ENV.format(
    dtd='<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    body='<connectivityTest xmlns="urn:cdc:iisb:2011"><echoBack>&x;</echoBack></connectivityTest>').encode()))
lol = '<!ENTITY l0 "lol">' + "".join(
    '<!ENTITY l%d "%s">' % (i, ("&l%d;" % (i - 1)) * 10) for i in range(1, 10))
out["billion_laughs"] = fault(lambda: raw("connectivityTest", ENV.format(
    dtd="<!DOCTYPE lolz [%s]>" % lol,
    body='<connectivityTest xmlns="urn:cdc:iisb:2011"><echoBack>&l9;</echoBack></connectivityTest>').encode()))
print(json.dumps(out))
