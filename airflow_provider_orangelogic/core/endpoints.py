"""Orange Logic endpoint paths, relative to the instance's URL: the one place they are spelled out.

Plain constants with no imports, so the stand-in (standard library only) and
``get_provider_info`` (imported at provider discovery) can use them too.
"""

AUTHORIZE = "/oauth2/auth"
TOKEN = "/webapi/security/oauth2/token_48I_v1"
CLIENT_CREDENTIALS = "/webapi/security/clientcredentialsauthentication/authenticate_46H_v1"
SEARCH = "/API/search/v4.0/search"

# Uploads (docs/uploads.md). The single-call paths and steps 1, 2 and 5 of the Multi-Part Upload API are
# the reference's legacy spellings (the /webapi/ ones are uncertain); step 4's path is the documented one.
# Every one of them can be overridden per call (api/uploads.py UploadEndpoints).
UPLOAD_NEW_MEDIA = "/API/v3.0/UploadNewMedia"
UPLOAD_NEW_VERSION = "/API/v3.0/UploadNewVersion"
MULTIPART_CREATE_TRANSACTION = "/API/UT_UPLOADTRANSACTION/v1.0/CreateTransaction"
MULTIPART_REGISTER_ITEMS = "/API/CortexUploader_BO/v1.1/RegisterUploadItems"
MULTIPART_CHUNK = "/webapi/mediafile/import/upload/item/26_v1/{upload_item_id}"
MULTIPART_COMPLETE = "/API/CortexUploader_BO/v1.1/CompleteUpload"

# Metadata (docs/metadata.md): DataTable v2.2; "Documents.{type}.{subtype}:{action}" is appended to it.
DATATABLE = "/API/DataTable/V2.2/"

# Files out (docs/files-out.md): presigned links in batch (the path is uncertain: secondary client code).
PRESIGNED_LINKS = "/webapi/objectmanagement/share/getpresignedlinks_4as_v1"
PRESIGNED_LINK = "/webapi/objectmanagement/share/getpresignedlink_4ar_v1"
