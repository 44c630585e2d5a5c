"""Amazon ECR: what a tag points at now, and whether a recorded digest still exists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ecs_rollback.domain.model import ImageReference

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

_GONE = ("ImageNotFoundException", "RepositoryNotFoundException")


class EcrRegistry:
    def __init__(self, client: ECRClient) -> None:
        self._client = client

    def _describe(self, image: ImageReference, **image_id: str) -> list[str] | None:
        location = image.ecr
        if location is None:
            return None
        registry, _region, repository = location
        try:
            response = self._client.describe_images(
                registryId=registry,
                repositoryName=repository,
                imageIds=[image_id],  # type: ignore[list-item]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in _GONE:
                return []
            raise
        return [
            detail["imageDigest"] for detail in response.get("imageDetails", []) if "imageDigest" in detail
        ]

    def resolve_tag(self, image: ImageReference) -> str | None:
        if image.tag is None:
            return None
        digests = self._describe(image, imageTag=image.tag)
        return digests[0] if digests else None

    def digest_exists(self, image: ImageReference, digest: str) -> bool | None:
        digests = self._describe(image, imageDigest=digest)
        if digests is None:
            return None
        return digest in digests
