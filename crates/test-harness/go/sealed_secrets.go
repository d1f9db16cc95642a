// The sealed-secrets controller's side of sealing, for tests: its key and certificate, and its
// unsealing of a SealedSecret, done the way the Bitnami controller does them with Go's standard
// library (RSA-OAEP with SHA-256 over the session key, AES-256-GCM with a zero nonce over the
// value, the OAEP label taken from the object's name, namespace and scope annotations).
//
//	go run sealed_secrets.go keygen DIR BITS   writes DIR/tls.key and DIR/tls.crt (the controller
//	                                           makes 4096-bit keys; 10 years)
//	go run sealed_secrets.go unseal KEY        reads a SealedSecret (JSON) on stdin and prints the
//	                                      Secret the controller would make from it (JSON), or
//	                                      exits 1 naming the key it cannot unseal
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"time"
)

type sealedSecret struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		EncryptedData map[string]string `json:"encryptedData"`
		Template      struct {
			Type string `json:"type"`
		} `json:"template"`
	} `json:"spec"`
}

type secret struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Type      string            `json:"type"`
	Data      map[string]string `json:"data"`
}

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "keygen":
		var bits int
		if _, err = fmt.Sscan(os.Args[3], &bits); err == nil {
			err = keygen(os.Args[2], bits)
		}
	case len(os.Args) == 3 && os.Args[1] == "unseal":
		err = unseal(os.Args[2])
	default:
		fmt.Fprintln(os.Stderr, "usage: sealed_secrets keygen DIR BITS | unseal KEY")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func keygen(dir string, bits int) error {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return err
	}
	now := time.Now()
	template := x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sealed-secret"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, &template, &template, &key.PublicKey, key)
	if err != nil {
		return err
	}
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), crt, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tls.key"), priv, 0o600)
}

// label is the controller's EncryptionLabel for the object's scope.
func label(s *sealedSecret) []byte {
	switch {
	case s.Metadata.Annotations["sealedsecrets.bitnami.com/cluster-wide"] == "true":
		return []byte("")
	case s.Metadata.Annotations["sealedsecrets.bitnami.com/namespace-wide"] == "true":
		return []byte(s.Metadata.Namespace)
	default:
		return []byte(s.Metadata.Namespace + "/" + s.Metadata.Name)
	}
}

// hybridDecrypt is the controller's crypto.HybridDecrypt.
func hybridDecrypt(key *rsa.PrivateKey, ciphertext, label []byte) ([]byte, error) {
	if len(ciphertext) < 2 {
		return nil, errors.New("ciphertext too short")
	}
	rsaLen := int(binary.BigEndian.Uint16(ciphertext))
	if len(ciphertext) < rsaLen+2 {
		return nil, errors.New("ciphertext shorter than its RSA part")
	}
	sessionKey, err := rsa.DecryptOAEP(sha256.New(), nil, key, ciphertext[2:rsaLen+2], label)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sessionKey)
	if err != nil {
		return nil, err
	}
	aed, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return aed.Open(nil, make([]byte, aed.NonceSize()), ciphertext[rsaLen+2:], nil)
}

func unseal(keyFile string) error {
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return errors.New("no PEM key")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return err
	}
	var s sealedSecret
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		return err
	}
	out := secret{Name: s.Metadata.Name, Namespace: s.Metadata.Namespace, Type: s.Spec.Template.Type, Data: map[string]string{}}
	keys := make([]string, 0, len(s.Spec.EncryptedData))
	for k := range s.Spec.EncryptedData {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ciphertext, err := base64.StdEncoding.DecodeString(s.Spec.EncryptedData[k])
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		plain, err := hybridDecrypt(key, ciphertext, label(&s))
		if err != nil {
			return fmt.Errorf("cannot unseal %s: %w", k, err)
		}
		out.Data[k] = base64.StdEncoding.EncodeToString(plain)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
