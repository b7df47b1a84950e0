// Server reflection (grpc.reflection.v1 and v1alpha) for the services a server hosts, built from
// the file descriptors protobuf-es already holds, so no .proto file is read at run time.
import { toBinary, type DescFile, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { ReflectionService } from '@grpc/reflection';
import type { Server } from '@grpc/grpc-js';

type PackageDefinition = ConstructorParameters<typeof ReflectionService>[0];

function collectFiles(file: DescFile, into: Map<string, DescFile>): void {
  if (into.has(file.proto.name)) return;
  into.set(file.proto.name, file);
  for (const dependency of file.dependencies) collectFiles(dependency, into);
}

/**
 * The proto-loader-shaped package definition that @grpc/reflection reads: every file that
 * defines a hosted service, with its imports, as serialized FileDescriptorProtos.
 */
export function reflectionPackage(services: readonly DescService[]): PackageDefinition {
  const files = new Map<string, DescFile>();
  for (const service of services) collectFiles(service.file, files);
  const fileDescriptorProtos = [...files.values()].map((f) =>
    Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)),
  );
  const definition: Record<string, unknown> = {};
  for (const service of services) {
    definition[service.typeName] = {
      fileDescriptorProtos,
      format: 'Protocol Buffer 3 DescriptorProto',
    };
  }
  return definition as PackageDefinition;
}

/** Adds the reflection service, listing exactly the given services, to a server. */
export function addReflection(server: Server, services: readonly DescService[]): void {
  const reflection = new ReflectionService(reflectionPackage(services), {
    services: services.map((s) => s.typeName),
  });
  reflection.addToServer(server);
}
